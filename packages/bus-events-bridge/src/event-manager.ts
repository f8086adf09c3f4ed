/**
 * woodwork's `EventManager` in TypeScript: hooks (observers, run concurrently, isolated from each
 * other and from the emitter) and pipes (transformers, run in order). This is the local,
 * in-process manager; `MessageBusEventManager` extends it to carry hooks over the bus.
 */
import { HandlerTimeoutError, InvalidConfigError, configInteger, configName, configString, describeValue, rejectUnknownKeys } from '@woodwork/bus-core';
import {
  DEFAULT_SESSION_ID,
  sessionIdOf,
  type AnyEvents,
  type EventMapOf,
  type EventName,
  type Hook,
  type HookContext,
  type HookOptions,
  type Pipe,
} from './types.js';

export interface HookEntry {
  event: string;
  /** Stored untyped: the generic call that added it checked its payload type. */
  hook: Hook<any>;
  /** Unique per event within one manager; names the hook's group on the bus. */
  name: string;
}

export interface PipeEntry {
  event: string;
  pipe: Pipe<any>;
}

/** Everything a manager had registered, in registration order (see `takeListeners`). */
export interface ListenerSet {
  hooks: HookEntry[];
  pipes: PipeEntry[];
}

export interface HookErrorInfo {
  event: string;
  hookName: string;
  /** The emitted payload's session; null when the failure was the hook's subscription to the bus. */
  sessionId: string | null;
}

export interface EventManagerOptions {
  /** Session of payloads without `session_id` / `sessionId`. Default `'default'`. */
  defaultSessionId?: string;
  /**
   * Told about every failing local hook. Default: `console.error`, because a hook failure must not
   * vanish; it never reaches the emitter or the other hooks.
   */
  onHookError?: (error: unknown, info: HookErrorInfo) => void;
  /**
   * How long `emit` waits for a local hook (ms; 0: for ever). A hook still running then is reported
   * to `onHookError` as a `HandlerTimeoutError`, its `signal` aborts, and `emit` goes on without it.
   * Default 30000, the bus's `handlerTimeoutMs`. (Hooks on the bus use the bus's timeout instead.)
   */
  hookTimeoutMs?: number;
}

const OPTION_KEYS = ['defaultSessionId', 'onHookError', 'hookTimeoutMs'];
const DEFAULT_HOOK_TIMEOUT_MS = 30_000;

const HOOK_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const HOOK_NAME_RULE = 'must be 1-64 letters, digits, "_" or "-"';

function defaultHookErrorReporter(error: unknown, info: HookErrorInfo): void {
  const what = info.sessionId === null ? 'could not be subscribed' : 'failed';
  console.error(`woodwork events: hook "${info.hookName}" of "${info.event}" ${what}`, error);
}

export class EventManager<E extends EventMapOf<E> = AnyEvents> {
  /** The session of payloads that carry none. */
  readonly defaultSessionId: string;
  private readonly hooks = new Map<string, HookEntry[]>();
  private readonly pipes = new Map<string, PipeEntry[]>();
  /** Hooks ever added per event: default names are never reused, even after a removal. */
  private readonly hookCounters = new Map<string, number>();
  /** Where failing hooks are reported (the option given, else `console.error`). */
  readonly onHookError: (error: unknown, info: HookErrorInfo) => void;
  /** How long `emit` waits for a local hook (0: for ever). */
  readonly hookTimeoutMs: number;

  constructor(options: EventManagerOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
    }
    rejectUnknownKeys(options, OPTION_KEYS);
    this.defaultSessionId = configName(options.defaultSessionId ?? DEFAULT_SESSION_ID, 'defaultSessionId');
    if (options.onHookError !== undefined && typeof options.onHookError !== 'function') {
      throw new InvalidConfigError('onHookError', `must be a function; got ${describeValue(options.onHookError)}`);
    }
    this.onHookError = options.onHookError ?? defaultHookErrorReporter;
    this.hookTimeoutMs = configInteger(options.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS, 'hookTimeoutMs', 0);
  }

  /** Adds a hook: it sees every payload of `event` as emitted (before pipes). */
  on<K extends EventName<E>>(event: K, hook: Hook<E[K]>, options?: HookOptions): this {
    return this.addHook(event, hook, options);
  }

  addHook<K extends EventName<E>>(event: K, hook: Hook<E[K]>, options: HookOptions = {}): this {
    this.insertHook(this.newHookEntry(event, hook, options.name));
    return this;
  }

  /** Adds a pipe after the event's existing pipes. */
  addPipe<K extends EventName<E>>(event: K, pipe: Pipe<E[K]>): this {
    this.insertPipe({ event, pipe: checkListener(pipe, 'pipe') });
    return this;
  }

  /** Removes a hook by function or name; false when it was not there. */
  off<K extends EventName<E>>(event: K, hookOrName: Hook<E[K]> | string): boolean {
    return this.removeHook(event, hookOrName);
  }

  removeHook<K extends EventName<E>>(event: K, hookOrName: Hook<E[K]> | string): boolean {
    const list = this.hooks.get(event);
    const index = list?.findIndex((e) => (typeof hookOrName === 'string' ? e.name === hookOrName : e.hook === hookOrName)) ?? -1;
    if (!list || index < 0) return false;
    const [entry] = list.splice(index, 1);
    if (list.length === 0) this.hooks.delete(event);
    this.hookRemoved(entry as HookEntry);
    return true;
  }

  removePipe<K extends EventName<E>>(event: K, pipe: Pipe<E[K]>): boolean {
    const list = this.pipes.get(event);
    const index = list?.findIndex((e) => e.pipe === pipe) ?? -1;
    if (!list || index < 0) return false;
    list.splice(index, 1);
    if (list.length === 0) this.pipes.delete(event);
    return true;
  }

  /** The hooks of one event (or of all), in registration order. */
  listHooks(event?: EventName<E>): HookEntry[] {
    return event === undefined ? [...this.hooks.values()].flat() : [...(this.hooks.get(event) ?? [])];
  }

  listPipes(event?: EventName<E>): PipeEntry[] {
    return event === undefined ? [...this.pipes.values()].flat() : [...(this.pipes.get(event) ?? [])];
  }

  /**
   * Removes every hook and pipe and returns them (hooks keep their names), so another manager can
   * take them over; see `setupMessageBusIntegration`.
   */
  takeListeners(): ListenerSet {
    const taken = { hooks: this.listHooks(), pipes: this.listPipes() };
    for (const entry of taken.hooks) this.removeHook(entry.event as EventName<E>, entry.name);
    this.pipes.clear();
    return taken;
  }

  /**
   * Runs the event's hooks concurrently on the payload as emitted, and its pipes in order, and
   * resolves with the payload the last pipe left once every hook has settled. A failing hook is
   * reported to `onHookError` and affects nothing else; a failing pipe rejects the emit.
   */
  async emit<K extends EventName<E>>(event: K, data: E[K]): Promise<E[K]> {
    const sessionId = sessionIdOf(data, this.defaultSessionId);
    const hooksDone = this.runHooksLocally(event, data, sessionId);
    try {
      return await this.runPipes(event, data, sessionId);
    } finally {
      await hooksDone;
    }
  }

  /** Runs the event's pipes in order; each result replaces the payload unless it is undefined. */
  protected async runPipes<K extends EventName<E>>(event: K, data: E[K], sessionId: string): Promise<E[K]> {
    let current = data;
    for (const { pipe } of this.listPipes(event)) {
      const result = await (pipe as Pipe<E[K]>)(current, { event, sessionId });
      if (result !== undefined) current = result as E[K];
    }
    return current;
  }

  private async runHooksLocally(event: string, data: unknown, sessionId: string): Promise<void> {
    const entries = this.listHooks(event as EventName<E>);
    if (entries.length === 0) return;
    // One controller and one timer per emit, not per hook: emits are frequent, stuck hooks rare.
    const controller = new AbortController();
    const context: HookContext = { event, sessionId, signal: controller.signal, attempt: 1, messageId: null, componentSource: null };
    const running = new Set<HookEntry>(entries);
    const settled = Promise.all(
      entries.map(async (entry) => {
        try {
          // Called within the same tick for all hooks: they start together, none waits for another.
          await (entry.hook as Hook<unknown>)(data, { ...context });
        } catch (error) {
          if (running.has(entry)) this.reportHookError(error, { event, hookName: entry.name, sessionId });
        } finally {
          running.delete(entry);
        }
      }),
    );
    if (this.hookTimeoutMs === 0) {
      await settled;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        const error = new HandlerTimeoutError(this.hookTimeoutMs);
        // Reported once; whatever these hooks do later is no longer the emit's concern.
        const late = [...running];
        running.clear();
        for (const entry of late) this.reportHookError(error, { event, hookName: entry.name, sessionId });
        controller.abort(error);
        resolve();
      }, this.hookTimeoutMs);
    });
    try {
      await Promise.race([settled, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  protected reportHookError(error: unknown, info: HookErrorInfo): void {
    try {
      this.onHookError(error, info);
    } catch {
      // A throwing reporter must not turn one hook's failure into the emitter's.
    }
  }

  /** Builds a hook entry: checks the function and the name, or names it by its order. */
  protected newHookEntry(event: string, hook: HookEntry['hook'], name: string | undefined): HookEntry {
    checkListener(hook, 'hook');
    const taken = (candidate: string): boolean => this.hooks.get(event)?.some((e) => e.name === candidate) ?? false;
    let count = this.hookCounters.get(event) ?? 0;
    let hookName: string;
    if (name === undefined) {
      // Skips names a moved-in hook already holds, so order-based names stay unique.
      while (taken(`h${count}`)) count++;
      hookName = `h${count}`;
    } else {
      hookName = configString(name, 'name', HOOK_NAME_RE, HOOK_NAME_RULE);
      if (taken(hookName)) {
        throw new InvalidConfigError('name', `must be unique per event; "${event}" already has a hook named "${hookName}"`);
      }
    }
    this.hookCounters.set(event, count + 1);
    return { event, hook, name: hookName };
  }

  /** Stores a hook entry (subclasses also register it elsewhere, then call this). */
  protected insertHook(entry: HookEntry): void {
    const list = this.hooks.get(entry.event);
    if (list) list.push(entry);
    else this.hooks.set(entry.event, [entry]);
  }

  protected insertPipe(entry: PipeEntry): void {
    const list = this.pipes.get(entry.event);
    if (list) list.push(entry);
    else this.pipes.set(entry.event, [entry]);
  }

  /** Called after a hook left the manager; the bus manager ends its subscription here. */
  protected hookRemoved(_entry: HookEntry): void {}
}

function checkListener<F>(fn: F, kind: 'hook' | 'pipe'): F {
  if (typeof fn !== 'function') throw new InvalidConfigError(kind, `must be a function; got ${describeValue(fn)}`);
  return fn;
}
