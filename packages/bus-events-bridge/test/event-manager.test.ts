import { HandlerTimeoutError, InvalidConfigError, InvalidMessageError } from '@woodwork/bus-core';
import { describe, expect, it } from 'vitest';
import { EventManager, sessionIdOf, type HookErrorInfo } from '../src/index.js';
import { barrier, within } from './support/waiting.js';

interface Events {
  'agent.thought': { session_id?: string; text: string };
  'tool.call': { sessionId?: string; tool: string; args: string[] };
}

describe('EventManager hooks', () => {
  it('runs the hooks of an event concurrently', async () => {
    const manager = new EventManager<Events>();
    const both = barrier(2);
    const seen: string[] = [];
    // Each hook waits until the other has started: run one after the other, they would never finish.
    manager.on('agent.thought', async (p) => {
      await both.arrive();
      seen.push(`a:${p.text}`);
    });
    manager.on('agent.thought', async (p) => {
      await both.arrive();
      seen.push(`b:${p.text}`);
    });
    await within('emit', manager.emit('agent.thought', { text: 'hi' }));
    expect(seen.sort()).toEqual(['a:hi', 'b:hi']);
  });

  it('keeps a failing hook from the other hooks and the emitter, and reports it', async () => {
    const errors: Array<{ error: unknown; info: HookErrorInfo }> = [];
    const manager = new EventManager<Events>({ onHookError: (error, info) => errors.push({ error, info }) });
    const seen: string[] = [];
    manager.on('agent.thought', () => {
      throw new Error('sync boom');
    });
    manager.on('agent.thought', async () => {
      throw new Error('async boom');
    }, { name: 'rejecter' });
    manager.on('agent.thought', (p) => void seen.push(p.text));
    const result = await manager.emit('agent.thought', { session_id: 's1', text: 'x' });
    expect(result).toEqual({ session_id: 's1', text: 'x' });
    expect(seen).toEqual(['x']);
    expect(errors.map((e) => [(e.error as Error).message, e.info])).toEqual([
      ['sync boom', { event: 'agent.thought', hookName: 'h0', sessionId: 's1' }],
      ['async boom', { event: 'agent.thought', hookName: 'rejecter', sessionId: 's1' }],
    ]);
  });

  it('stops waiting for a hook that never settles: reports a timeout and aborts its signal; the emit goes on', async () => {
    const errors: Array<{ error: unknown; info: HookErrorInfo }> = [];
    const manager = new EventManager<Events>({ hookTimeoutMs: 50, onHookError: (error, info) => errors.push({ error, info }) });
    let signal: AbortSignal | undefined;
    const seen: string[] = [];
    manager.on('agent.thought', (_p, ctx) => {
      signal = ctx.signal;
      return new Promise(() => {});
    }, { name: 'stuck' });
    manager.on('agent.thought', (p) => void seen.push(p.text));
    manager.addPipe('agent.thought', (p) => ({ ...p, text: `${p.text}!` }));
    await expect(within('emit', manager.emit('agent.thought', { session_id: 's1', text: 'x' }), 10_000)).resolves.toEqual({
      session_id: 's1',
      text: 'x!',
    });
    expect(seen).toEqual(['x']);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(HandlerTimeoutError);
    expect(errors[0]?.info).toEqual({ event: 'agent.thought', hookName: 'stuck', sessionId: 's1' });
    expect(signal?.aborted).toBe(true);
    expect(() => new EventManager({ hookTimeoutMs: -1 })).toThrow(/invalid config: hookTimeoutMs/);
    expect(() => new EventManager({ hookTimeout: 5 } as never)).toThrow(/hookTimeout is not a known option/);
  });

  it('survives a throwing error reporter', async () => {
    const manager = new EventManager<Events>({
      onHookError: () => {
        throw new Error('reporter broke');
      },
    });
    manager.on('agent.thought', () => {
      throw new Error('boom');
    });
    await expect(manager.emit('agent.thought', { text: 'x' })).resolves.toEqual({ text: 'x' });
  });

  it('removes hooks by function or by name', async () => {
    const manager = new EventManager<Events>();
    const seen: string[] = [];
    const first = (): void => void seen.push('first');
    manager.on('tool.call', first).on('tool.call', () => void seen.push('named'), { name: 'named' });
    expect(manager.off('tool.call', first)).toBe(true);
    expect(manager.removeHook('tool.call', 'named')).toBe(true);
    expect(manager.removeHook('tool.call', 'named')).toBe(false);
    await manager.emit('tool.call', { tool: 't', args: [] });
    expect(seen).toEqual([]);
    expect(manager.listHooks()).toEqual([]);
  });

  it('names hooks by order, never reusing a name, and rejects a duplicate or bad name', () => {
    const manager = new EventManager<Events>();
    manager.on('tool.call', () => {}).on('tool.call', () => {});
    manager.removeHook('tool.call', 'h0');
    manager.on('tool.call', () => {});
    expect(manager.listHooks('tool.call').map((h) => h.name)).toEqual(['h1', 'h2']);
    const dup = (): unknown => manager.on('tool.call', () => {}, { name: 'h1' });
    expect(dup).toThrow(InvalidConfigError);
    expect(dup).toThrow(/name must be unique per event/);
    expect(() => manager.on('tool.call', () => {}, { name: 'has space' })).toThrow(/invalid config: name must be 1-64/);
    expect(() => manager.on('tool.call', 'nope' as never)).toThrow(/invalid config: hook must be a function/);
  });
});

describe('EventManager pipes', () => {
  it('runs pipes in order: a returned value replaces the payload, undefined keeps it, async pipes are awaited', async () => {
    const manager = new EventManager<Events>();
    const order: string[] = [];
    manager.addPipe('agent.thought', (p) => {
      order.push(`1:${p.text}`);
      return { ...p, text: `${p.text}-1` };
    });
    manager.addPipe('agent.thought', (p) => {
      order.push(`2:${p.text}`);
      return undefined;
    });
    manager.addPipe('agent.thought', async (p) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`3:${p.text}`);
      return { ...p, text: `${p.text}-3` };
    });
    manager.addPipe('agent.thought', (p) => {
      order.push(`4:${p.text}`);
    });
    const seenByHook: string[] = [];
    manager.on('agent.thought', (p) => void seenByHook.push(p.text));
    const result = await manager.emit('agent.thought', { text: 'a' });
    expect(result).toEqual({ text: 'a-1-3' });
    expect(order).toEqual(['1:a', '2:a-1', '3:a-1', '4:a-1-3']);
    expect(seenByHook).toEqual(['a']);
  });

  it('rejects the emit when a pipe fails, after the hooks settled', async () => {
    const manager = new EventManager<Events>();
    let hookDone = false;
    manager.on('agent.thought', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      hookDone = true;
    });
    manager.addPipe('agent.thought', () => {
      throw new Error('pipe broke');
    });
    await expect(manager.emit('agent.thought', { text: 'a' })).rejects.toThrow('pipe broke');
    expect(hookDone).toBe(true);
  });

  it('removes a pipe; an event without listeners returns its payload', async () => {
    const manager = new EventManager<Events>();
    const upper = (p: Events['agent.thought']): Events['agent.thought'] => ({ ...p, text: p.text.toUpperCase() });
    manager.addPipe('agent.thought', upper);
    expect(manager.removePipe('agent.thought', upper)).toBe(true);
    expect(manager.removePipe('agent.thought', upper)).toBe(false);
    await expect(manager.emit('agent.thought', { text: 'a' })).resolves.toEqual({ text: 'a' });
  });

  it('takeListeners hands over every hook (with its name) and pipe and leaves the manager empty', () => {
    const manager = new EventManager<Events>();
    const pipe = (): undefined => undefined;
    manager.on('agent.thought', () => {}, { name: 'logger' }).on('tool.call', () => {}).addPipe('tool.call', pipe);
    const taken = manager.takeListeners();
    expect(taken.hooks.map((h) => [h.event, h.name])).toEqual([
      ['agent.thought', 'logger'],
      ['tool.call', 'h0'],
    ]);
    expect(taken.pipes).toEqual([{ event: 'tool.call', pipe }]);
    expect(manager.listHooks()).toEqual([]);
    expect(manager.listPipes()).toEqual([]);
  });
});

describe('session ids', () => {
  it('reads session_id, then sessionId, else the default', () => {
    expect(sessionIdOf({ session_id: 'a', sessionId: 'b' }, 'default')).toBe('a');
    expect(sessionIdOf({ sessionId: 'b' }, 'default')).toBe('b');
    expect(sessionIdOf({ text: 'x' }, 'default')).toBe('default');
    expect(sessionIdOf({ session_id: null }, 'fallback')).toBe('fallback');
  });

  it('rejects a session field that is not a string', () => {
    expect(() => sessionIdOf({ session_id: 42 }, 'default')).toThrow(InvalidMessageError);
    expect(() => sessionIdOf({ sessionId: {} }, 'default')).toThrow(/payload.sessionId must be a string session id; got an object/);
  });

  it('passes the session to hooks and pipes, using the configured default', async () => {
    const manager = new EventManager<Events>({ defaultSessionId: 'main' });
    const seen: string[] = [];
    manager.on('agent.thought', (_p, ctx) => void seen.push(`hook:${ctx.sessionId}`));
    manager.addPipe('agent.thought', (_p, ctx) => void seen.push(`pipe:${ctx.sessionId}`));
    await manager.emit('agent.thought', { text: 'x' });
    await manager.emit('agent.thought', { session_id: 's-2', text: 'x' });
    expect(seen).toEqual(['hook:main', 'pipe:main', 'hook:s-2', 'pipe:s-2']);
    expect(() => new EventManager({ defaultSessionId: 'bad.session' })).toThrow(/invalid config: defaultSessionId/);
  });
});
