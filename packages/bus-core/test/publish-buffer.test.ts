/**
 * PublishBuffer, the bounded buffer a backend keeps while its server is away: sends at once when up
 * and empty, waits in order otherwise, QueueFullError past the bound, BackendUnavailableError at the
 * deadline (never sent afterwards), a retryable failure kept at the head and sent again by the same
 * attempt, other failures rejecting only their publish, failAll on close. The "server" here is a
 * list the attempts append to, up or down as the test says.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendUnavailableError, PublishBuffer, QueueFullError } from '../src/index.js';

class FakeServer {
  up = true;
  stored: string[] = [];
  /** Attempts of each item (a resend is the same attempt called again). */
  tries = new Map<string, number>();
  failNext: Error | undefined;
  store(item: string): () => Promise<string> {
    return async () => {
      this.tries.set(item, (this.tries.get(item) ?? 0) + 1);
      await Promise.resolve();
      if (this.failNext) {
        const error = this.failNext;
        this.failNext = undefined;
        throw error;
      }
      if (!this.up) throw new Error('Connection is closed');
      this.stored.push(item);
      return `id-${item}`;
    };
  }
}

function buffer(server: FakeServer, size = 3, deadlineMs = 10_000): PublishBuffer {
  return new PublishBuffer({
    size,
    deadlineMs,
    server: 'Fake',
    connected: () => server.up,
    retryable: (e) => /closed/.test(String((e as Error).message)),
    failure: (e) => new BackendUnavailableError(`failed: ${(e as Error).message}`),
    retryMs: 10,
  });
}

afterEach(() => vi.useRealTimers());

describe('PublishBuffer', () => {
  it('sends at once while the server is up and nothing waits', async () => {
    const server = new FakeServer();
    const b = buffer(server);
    await expect(b.send(server.store('a'))).resolves.toBe('id-a');
    expect(server.stored).toEqual(['a']);
    expect(b.buffered).toBe(0);
  });

  it('while the server is away: waits in order up to the bound, QueueFullError past it, all sent in order on flush', async () => {
    const server = new FakeServer();
    const b = buffer(server, 3);
    server.up = false;
    const waiting = ['a', 'b', 'c'].map((item) => b.send(server.store(item)));
    expect(b.buffered).toBe(3);
    await expect(b.send(server.store('d'))).rejects.toBeInstanceOf(QueueFullError);
    expect(server.tries.has('d')).toBe(false);
    server.up = true;
    await b.flush();
    await expect(Promise.all(waiting)).resolves.toEqual(['id-a', 'id-b', 'id-c']);
    expect(server.stored).toEqual(['a', 'b', 'c']);
    expect(b.buffered).toBe(0);
  });

  it('a publish made while anything waits goes behind it, even with the server back', async () => {
    const server = new FakeServer();
    const b = buffer(server, 3);
    server.up = false;
    const first = b.send(server.store('a'));
    server.up = true; // back, but the buffer has not been flushed yet
    const second = b.send(server.store('b'));
    await expect(Promise.all([first, second])).resolves.toEqual(['id-a', 'id-b']);
    expect(server.stored).toEqual(['a', 'b']);
  });

  it('a send lost with the connection waits at the head and is sent again by the same attempt once the server is back', async () => {
    const server = new FakeServer();
    const b = buffer(server);
    const lost = new Error('Connection is closed');
    server.failNext = lost;
    const first = b.send(async () => {
      try {
        return await server.store('a')();
      } catch (error) {
        if (error === lost) server.up = false; // the connection dropped with that command
        throw error;
      }
    });
    await vi.waitFor(() => expect(b.buffered).toBe(1));
    const second = b.send(server.store('b'));
    server.up = true;
    await b.flush(); // what the backend does on reconnect
    await expect(Promise.all([first, second])).resolves.toEqual(['id-a', 'id-b']);
    expect(server.tries.get('a')).toBe(2);
    expect(server.stored).toEqual(['a', 'b']);
  });

  it('a failure that is not the connection rejects that publish only, through failure()', async () => {
    const server = new FakeServer();
    const b = buffer(server);
    server.up = false;
    const a = b.send(server.store('a'));
    const c = b.send(server.store('c'));
    server.up = true;
    server.failNext = new Error('ERR script');
    await b.flush();
    await expect(a).rejects.toThrow(/failed: ERR script/);
    await expect(c).resolves.toBe('id-c');
  });

  it('rejects with BackendUnavailableError at its deadline and is never sent afterwards', async () => {
    vi.useFakeTimers();
    const server = new FakeServer();
    const b = buffer(server, 3, 500);
    server.up = false;
    const a = b.send(server.store('a'));
    const rejected = expect(a).rejects.toBeInstanceOf(BackendUnavailableError);
    await vi.advanceTimersByTimeAsync(501);
    await rejected;
    expect(b.buffered).toBe(0);
    server.up = true;
    await b.flush();
    expect(server.stored).toEqual([]);
  });

  it('failAll rejects everything waiting (close)', async () => {
    const server = new FakeServer();
    const b = buffer(server);
    server.up = false;
    const a = b.send(server.store('a'));
    b.failAll(new Error('closed bus'));
    await expect(a).rejects.toThrow('closed bus');
    expect(b.buffered).toBe(0);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new PublishBuffer({ size: 0, deadlineMs: 0, server: 'x', connected: () => true, retryable: () => false })).toThrow(RangeError);
  });
});
