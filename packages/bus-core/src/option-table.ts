/**
 * The option table: every option a bus takes, once, with its snake_case config key (YAML files,
 * environment-built configs), its camelCase option name (code), its range, its default and its
 * check. Core lists the shared options (`SHARED_OPTIONS`); each backend's own options are written
 * with the same builders (`integerOption`, `millisecondsOption`, ...) so that code, config files
 * and the adapter apply one rule, with one error text, and a new key is one line.
 *
 * Checks look at own keys only (never `__proto__`, `constructor` or `toString` from a prototype),
 * and every millisecond option stops at `MAX_TIMER_MS` (Node fires a longer timer after 1 ms).
 */
import { describeRange, describeValue } from './describe-value.js';
import { InvalidConfigError } from './errors.js';
import { redactSecrets } from './redact.js';

/** Longest delay a Node timer honours (2^31-1 ms, about 24.8 days); longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Checks one value given in code (strict types); throws `InvalidConfigError` naming `key`. */
export type OptionCheck<T = unknown> = (value: unknown, key: string) => T;

export interface OptionSpec<T = unknown> {
  /** Name in config files and environment-built configs: `handler_timeout_ms`. */
  readonly key: string;
  /** Name in code, what `createMessageBus(options)` takes: `handlerTimeoutMs`. */
  readonly option: string;
  /**
   * `integer` and `number` values may come as numeric text from a file or the environment
   * (`"30000"`); `checkOptionTable` turns that text into a number first when told it reads text.
   */
  readonly type: 'integer' | 'number' | 'string' | 'choice' | 'object';
  readonly check: OptionCheck<T>;
  /** The value when not given; undefined when the option has none (or the backend computes it). */
  readonly default?: T;
  /** For `object` options (`retry`): the table of its fields. */
  readonly fields?: readonly OptionSpec[];
  /** One line for docs and `--help`. */
  readonly doc: string;
}

interface Base<T> {
  key: string;
  option: string;
  default?: T;
  doc: string;
}

/** An integer from `min` to `max` (default `Number.MAX_SAFE_INTEGER`). */
export function integerOption(spec: Base<number> & { min: number; max?: number }): OptionSpec<number> {
  const max = spec.max ?? Number.MAX_SAFE_INTEGER;
  return { ...strip(spec), type: 'integer', check: (value, key) => configInteger(value, key, spec.min, max) };
}

/** Milliseconds: an integer from `min` to `max`, which is at most `MAX_TIMER_MS` (the default). */
export function millisecondsOption(spec: Base<number> & { min: number; max?: number }): OptionSpec<number> {
  const max = Math.min(spec.max ?? MAX_TIMER_MS, MAX_TIMER_MS);
  return { ...strip(spec), type: 'integer', check: (value, key) => configMilliseconds(value, key, spec.min, max) };
}

/** A finite number from `min` to `max`. */
export function numberOption(spec: Base<number> & { min: number; max: number }): OptionSpec<number> {
  return { ...strip(spec), type: 'number', check: (value, key) => configNumber(value, key, spec.min, spec.max) };
}

/** One of `choices`. */
export function choiceOption<C extends string>(spec: Base<C> & { choices: readonly C[] }): OptionSpec<C> {
  return { ...strip(spec), type: 'choice', check: (value, key) => configChoice(value, key, spec.choices) };
}

/** A string matching `pattern`; `rule` says what that means, for the error. */
export function stringOption(spec: Base<string> & { pattern: RegExp; rule: string }): OptionSpec<string> {
  return { ...strip(spec), type: 'string', check: (value, key) => configString(value, key, spec.pattern, spec.rule) };
}

/**
 * A server URL (or, with `list`, a comma-separated list) whose protocol is one of `protocols`
 * (`['redis:', 'rediss:']`). Errors show the URL with its password or token replaced
 * (`redactSecrets`), never the secret.
 */
export function urlOption(spec: Base<string> & { protocols: readonly string[]; list?: boolean }): OptionSpec<string> {
  return { ...strip(spec), type: 'string', check: (value, key) => configUrl(value, key, spec.protocols, spec.list ?? false) };
}

/** A string checked by `check` (names, paths...). */
export function customOption<T>(spec: Base<T> & { type?: OptionSpec['type']; check: OptionCheck<T> }): OptionSpec<T> {
  return { ...strip(spec), type: spec.type ?? 'string', check: spec.check };
}

/** A mapping of its own fields (`retry`), checked with `checkOptionTable` in the caller's naming. */
export function objectOption(spec: Base<Record<string, unknown>> & { fields: readonly OptionSpec[] }): OptionSpec<Record<string, unknown>> {
  const fields = spec.fields;
  return {
    ...strip(spec),
    type: 'object',
    fields,
    check: (value, key) => checkOptionTable(value, fields, { naming: 'option', where: key }),
  };
}

function strip<T>(spec: Base<T>): Base<T> {
  return { key: spec.key, option: spec.option, doc: spec.doc, ...(spec.default === undefined ? {} : { default: spec.default }) };
}

export interface CheckTableOptions {
  /** Which name the mapping uses: `key` (snake_case, config files) or `option` (camelCase, code). */
  naming: 'key' | 'option';
  /** Numeric text (`"30000"`) becomes a number for `integer` / `number` options (files, environment). */
  fromText?: boolean;
  /** `null` counts as not given (an empty YAML key). Otherwise null is checked like any value. */
  nullIsAbsent?: boolean;
  /** Other keys the mapping may hold, left unchecked for the caller (`logger`, a backend's own keys). */
  extraKeys?: readonly string[];
  /** Prefix of the mapping's name in errors (`retry`, `message_bus`); none at the top. */
  where?: string;
  /** How to name a key in errors (default `where.key`); e.g. the environment variable it came from. */
  nameKey?: (name: string) => string;
}

/**
 * Checks a mapping against a table: own keys only, unknown keys rejected (naming the key and
 * listing the allowed ones), each value by its option's check (objects by their own table, in
 * the same naming). Returns the checked values under their camelCase option names, without
 * defaults and without `extraKeys` (the caller handles those). Keys holding `undefined` are skipped.
 */
export function checkOptionTable(value: unknown, specs: readonly OptionSpec[], settings: CheckTableOptions): Record<string, unknown> {
  const where = settings.where;
  const nameKey = settings.nameKey ?? ((name: string) => (where === undefined ? name : `${where}.${name}`));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = settings.naming === 'key' ? `a mapping of ${specs.map((s) => s.key).join(', ')}` : 'an object';
    throw new InvalidConfigError(where ?? 'options', `must be ${what}; got ${describeValue(value)}`);
  }
  const byName = new Map<string, OptionSpec>();
  for (const spec of specs) byName.set(settings.naming === 'key' ? spec.key : spec.option, spec);
  const extra = new Set(settings.extraKeys ?? []);
  const allowed = [...byName.keys(), ...extra];
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(value)) {
    const spec = byName.get(name);
    if (spec === undefined) {
      if (extra.has(name)) continue;
      throw new InvalidConfigError(nameKey(name), 'is not a known option', allowed);
    }
    let given: unknown = (value as Record<string, unknown>)[name];
    if (given === undefined || (given === null && settings.nullIsAbsent)) continue;
    if (settings.fromText && (spec.type === 'integer' || spec.type === 'number')) given = numberFromText(given);
    out[spec.option] =
      spec.type === 'object' && spec.fields
        ? checkOptionTable(given, spec.fields, { ...settings, extraKeys: [], where: nameKey(name), nameKey: undefined })
        : spec.check(given, nameKey(name));
  }
  return { ...out };
}

/** Defaults of a table, by option name (options without a default are left out). */
export function optionDefaults(specs: readonly OptionSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) if (spec.default !== undefined) out[spec.option] = spec.default;
  return out;
}

const NUMBER_TEXT_RE = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** `"30000"` → 30000 (files and the environment only hold text); anything else as it is. */
export function numberFromText(value: unknown): unknown {
  return typeof value === 'string' && NUMBER_TEXT_RE.test(value) ? Number(value) : value;
}

export function configInteger(value: unknown, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(key, `must be ${describeRange('an integer', min, max)}; got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Milliseconds for a timer: an integer from `min` to `max` (at most `MAX_TIMER_MS`). The error says
 * the unit, and why the top is where it is when it is Node's timer limit.
 */
export function configMilliseconds(value: unknown, key: string, min: number, max = MAX_TIMER_MS): number {
  const top = Math.min(max, MAX_TIMER_MS);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > top) {
    const why = top === MAX_TIMER_MS ? ' (about 24.8 days, the longest Node timer; a longer one fires at once)' : '';
    throw new InvalidConfigError(key, `must be milliseconds, an integer from ${min} to ${top}${why}; got ${describeValue(value)}`);
  }
  return value;
}

export function configNumber(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidConfigError(key, `must be ${describeRange('a number', min, max)}; got ${describeValue(value)}`);
  }
  return value;
}

export function configString(value: unknown, key: string, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidConfigError(key, `${rule}; got ${describeValue(value)}`);
  }
  return value;
}

export function configChoice<T extends string>(value: unknown, key: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new InvalidConfigError(key, `must be one of the allowed values; got ${describeValue(value)}`, choices);
  }
  return value as T;
}

/**
 * A URL-ish value as it may be shown: `redactSecrets`, and where something that does not even
 * parse as a URL still has an `@`, everything before it (it may be credentials) hidden too.
 */
function redactUrlText(text: string): string {
  const redacted = redactSecrets(text);
  const at = redacted.lastIndexOf('@');
  return at >= 0 && !/:\/\/(?:[^@]*:)?\*\*\*@/.test(redacted) ? `***${redacted.slice(at)}` : redacted;
}

/**
 * A server URL, or with `list` a comma-separated list of them, each with one of `protocols`
 * (`'redis:'`) and a host. Returns the trimmed text. The value in an error is redacted.
 */
export function configUrl(value: unknown, key: string, protocols: readonly string[], list = false): string {
  const rule = `must be ${list ? 'one URL or a comma-separated list of URLs' : 'a URL'} starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
  const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(redactUrlText(v.length > 200 ? `${v.slice(0, 197)}...` : v)) : describeValue(v));
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(key, `${rule}; got ${shown(value)}`);
  const parts = list ? value.split(',').map((part) => part.trim()) : [value.trim()];
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      // The parser's error quotes the input, secret included: not kept as the cause.
      throw new InvalidConfigError(key, `${rule}; got ${shown(part)}`);
    }
    if (!protocols.includes(url.protocol) || url.hostname === '') {
      throw new InvalidConfigError(key, `${rule}; got ${shown(part)}`);
    }
  }
  return value.trim();
}
