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
