/**
 * A short, safe description of any value for error messages: `"text"`, `number 3`, `an array`,
 * `an instance of Date`. Never throws and never calls the value's own code beyond reading its
 * constructor's name (guarded): error paths must not fail on hostile values (Proxies, throwing
 * getters or `toString`).
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  try {
    if (Array.isArray(value)) return 'an array';
    const ctor: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
  } catch {
    return 'an object';
  }
}

/**
 * A range as a user says it: `an integer >= 1` when there is no real upper bound (the default
 * `Number.MAX_SAFE_INTEGER`, or `Infinity`), else `an integer from 1 to 1024`.
 */
export function describeRange(kind: string, min: number, max: number): string {
  return max >= Number.MAX_SAFE_INTEGER ? `${kind} >= ${min}` : `${kind} from ${min} to ${max}`;
}
