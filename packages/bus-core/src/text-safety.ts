/**
 * Characters that must not reach an id, a log line or a terminal as they are: C0 and C1 control
 * characters (ESC sequences retitle a window or clear a screen), DEL, the bidirectional overrides
 * and isolates (U+202A-202E, U+2066-2069: text that reads differently from what it is), and lone
 * UTF-16 surrogates (not text at all; they break UTF-8 encoders and Python readers).
 * Ids reject them (`validation.ts`); the CLI prints them escaped (`escapeControlCharacters`).
 */

// eslint-disable-next-line no-control-regex
const CONTROL_OR_BIDI_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_GLOBAL_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `text` holds a C0 / C1 control character, DEL, a bidi override or isolate, or a lone surrogate. */
export function hasUnsafeCharacters(text: string): boolean {
  return CONTROL_OR_BIDI_RE.test(text) || LONE_SURROGATE_RE.test(text);
}

/** True when `text` holds a UTF-16 surrogate without its pair. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE_RE.test(text);
}

/**
 * `text` with every unsafe character (see `hasUnsafeCharacters`) written as a visible escape:
 * `\n`, `\t`, `\r` as such, the others as `\u001b`-style escapes. Printable text, newlines of the
 * caller's own formatting excepted, is unchanged. Use it on anything a message, a handler's error or
 * a server put there before writing it to a terminal.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(UNSAFE_GLOBAL_RE, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\t') return '\\t';
    if (ch === '\r') return '\\r';
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
