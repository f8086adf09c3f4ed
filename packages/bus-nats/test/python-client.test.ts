/**
 * PROTOCOL.md is enough to take part: a Python client written from it alone (the NATS text protocol
 * over a socket, test/support/py_client.py) publishes a message a TypeScript consumer handles, and
 * consumes and acknowledges one a TypeScript publisher sent. On the shared NATS.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { sharedNatsUrl } from './support/nats-server.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./support/py_client.py', import.meta.url));
const open: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

async function target(): Promise<{ bus: NatsMessageBus; host: string; port: string; prefix: string }> {
  const url = new URL(await sharedNatsUrl());
  const prefix = randomName('py');
  const bus = await NatsMessageBus.connect(namespaces.remember({ url: url.toString(), streamPrefix: prefix }));
  open.push(bus);
  return { bus, host: url.hostname, port: url.port || '4222', prefix };
}

describe('a Python client following PROTOCOL.md', () => {
  it('publishes a message that a TypeScript consumer handles', async () => {
    const { bus, host, port, prefix } = await target();
    const got: MessageEnvelope[] = [];
    await bus.subscribe('py.hello', (e) => void got.push(e), { componentId: randomName('ts') });
    const { stdout } = await run('python3', [script, 'publish', host, port, prefix, 'py-session', 'py.hello']);
    const printed = JSON.parse(stdout.trim()) as { published: string; ack: { stream: string; seq: number } };
    expect(printed.ack.stream).toBe(`${prefix}~EVENTS`);
    await waitFor(() => got.length === 1, 'the Python message');
    expect(got[0]).toMatchObject({ messageId: printed.published, sessionId: 'py-session', componentSource: 'python', payload: { from: 'python' } });
  });

  it('consumes and acknowledges a message that a TypeScript publisher sent', async () => {
    const { bus, host, port, prefix } = await target();
    const child = spawn('python3', [script, 'consume', host, port, prefix, 'pyworkers', 'py.reply'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor(() => lines.some((l) => l.includes('"ready"')) || child.exitCode !== null, 'the Python consumer to be ready');
    expect(stderr).toBe('');
    const sent = createEnvelope({ sessionId: 'ts-session', eventType: 'py.reply', componentSource: 'ts', pattern: 'pub_sub', payload: { n: 42 } });
    await bus.publish(sent);
    expect(await exited, stderr).toBe(0);
    const consumed = JSON.parse(lines.find((l) => l.includes('"consumed"'))!) as { consumed: Record<string, unknown> };
    expect(consumed.consumed).toMatchObject({ message_id: sent.messageId, session_id: 'ts-session', payload: { n: 42 } });
    // Acknowledged: the group holds nothing, and the TypeScript side sees it as one of the prefix's groups.
    await waitFor(async () => {
      const group = (await bus.healthCheck()).groups.find((g) => g.group === 'pyworkers');
      return group !== undefined && group.pending === 0 && group.lag === 0;
    }, 'the Python group to have acknowledged it');
  });
});
