/**
 * The one redaction function: every package (core, the adapter and its CLI, every backend) passes
 * text that may hold a server URL through `redactSecrets` before it goes into an error message, a
 * log line, a warning or CLI output. A password, or a token written as the user part of a URL
 * (`nats://TOKEN@host`), or a secret-looking query parameter (`?password=`, `?token=`...), becomes
 * `***`; everything else, host and port included, stays readable so the message still helps.
 *
 *   redis://admin:S3cret@h:6379/0      -> redis://admin:***@h:6379/0
 *   nats://s3cr3t-token@h:4222         -> nats://***@h:4222
 *   rediss://h:6380/?password=x&db=1   -> rediss://h:6380/?password=***&db=1
 */

/** What a secret is replaced with. */
export const REDACTED = '***';

// scheme://userinfo@ — userinfo runs up to the last "@" before the host, without spaces, slashes,
// quotes or brackets, so "a@b" in ordinary text is not mistaken for credentials.
const USERINFO_RE = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s/?#"'<>()[\]{}]*)@/g;
const SECRET_PARAM_RE = /([?&;][^=&;\s#"'<>]*(?:pass|pwd|token|secret|auth|credential|signature|sig|key)[^=&;\s#"'<>]*=)([^&;\s#"'<>]*)/gi;

/**
 * `text` with every URL's password (or token) and secret-looking query parameters replaced by
 * `***`. Works on a bare URL or on any text that contains URLs (an error message, a log line).
 * Never throws; a non-string is turned into text first.
 */
export function redactSecrets(text: string): string {
  const input = typeof text === 'string' ? text : String(text);
  return input
    .replace(USERINFO_RE, (_match, scheme: string, userinfo: string) => {
      if (userinfo === '') return `${scheme}@`;
      const colon = userinfo.indexOf(':');
      // A user with a password keeps the user; a lone user part may be a token: hide it all.
      return colon > 0 ? `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@` : `${scheme}${REDACTED}@`;
    })
    .replace(SECRET_PARAM_RE, (_match, name: string, value: string) => (value === '' ? name : `${name}${REDACTED}`));
}

/** `redactSecrets` under the name callers look for when they hold one URL. */
export const redactUrl = redactSecrets;

/**
 * `text` with every occurrence of each known secret (a password, token, key or seed the bus was
 * given) replaced by `***`, then passed through `redactSecrets`. Secrets shorter than 4 characters
 * are not searched for (they would blank out ordinary words); such a secret still never appears in
 * a URL the bus prints, which `redactSecrets` covers.
 */
export function redactKnownSecrets(text: string, secrets: readonly string[]): string {
  let out = redactSecrets(text);
  for (const secret of secrets) {
    if (typeof secret === 'string' && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}

const MAX_ERROR_DEPTH = 8;

/**
 * A copy of `error` that is safe to surface: its message, stack and every string among its own
 * fields (a driver's `command.args`, `previousErrors`, ...) are redacted (`redactKnownSecrets`),
 * down its `cause` chain. Class, `name` and `code` are kept, so `instanceof` and `err.code` still
 * work. Driver errors such as ioredis's carry the AUTH arguments in `command.args`; anything a
 * backend throws or logs goes through this first. Non-errors are returned redacted when they are
 * strings, as they are otherwise.
 */
export function redactError<T>(error: T, secrets: readonly string[] = []): T {
  return redactValue(error, secrets, 0, new WeakMap()) as T;
}

function redactValue(value: unknown, secrets: readonly string[], depth: number, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redactKnownSecrets(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (depth >= MAX_ERROR_DEPTH) return value instanceof Error ? new Error(REDACTED) : REDACTED;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(redactValue(item, secrets, depth + 1, seen));
    return copy;
  }
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    seen.set(value, copy);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
      if ('value' in descriptor) descriptor.value = redactValue(descriptor.value, secrets, depth + 1, seen);
      else {
        // An accessor could compute anything: keep its value, redacted, as plain data.
        descriptor.value = redactValue(safeGet(value, key), secrets, depth + 1, seen);
        delete descriptor.get;
        delete descriptor.set;
        descriptor.writable = true;
      }
      Object.defineProperty(copy, key, descriptor);
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype !== Object.prototype && prototype !== null) return value; // Buffers, Dates, class instances: not text.
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [key, item] of Object.entries(value)) copy[key] = redactValue(item, secrets, depth + 1, seen);
  return copy;
}

function safeGet(target: object, key: PropertyKey): unknown {
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}
