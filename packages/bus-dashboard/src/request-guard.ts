/**
 * Who may use the dashboard, checked on every request before anything else runs.
 *
 * - **Token.** Every request carries the token: the page itself as `GET /?token=...` (the link the
 *   CLI prints), every API call as `Authorization: Bearer <token>`. Never a cookie: a browser sends
 *   cookies by itself (to every port of the host, and on requests another site makes), a header
 *   only when our own script adds it, so no other page can borrow the browser's access.
 * - **Mutations** (redrive, purge) are POSTs only, and besides the token need the CSRF token the page
 *   got in its HTML (`X-CSRF-Token`), `Content-Type: application/json` (a cross-site form cannot
 *   send it without a CORS preflight, which we never answer), and, when the browser says where the
 *   request came from (`Origin`, `Sec-Fetch-Site`), our own origin.
 * - **Host.** Listening on a loopback address, only a loopback `Host` header is served, so a DNS
 *   rebinding page (evil.example resolving to 127.0.0.1) is refused even before the token check.
 *
 * Token comparisons take constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type GuardRefusal = { status: 400 | 401 | 403 | 405 | 415 | 421; reason: string };

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export class RequestGuard {
  /** Sent to the page in its HTML; required on every POST. */
  readonly csrfToken = randomBytes(24).toString('base64url');
  private readonly token: Buffer;

  constructor(
    token: string,
    private readonly loopbackOnly: boolean,
  ) {
    this.token = Buffer.from(token);
  }

  /** True when `candidate` is the token (constant time). */
  isToken(candidate: string | null | undefined): boolean {
    if (typeof candidate !== 'string') return false;
    const given = Buffer.from(candidate);
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  /** The `Host` header is one this server answers to (any, unless it listens on loopback only). */
  checkHost(request: IncomingMessage): GuardRefusal | undefined {
    if (!this.loopbackOnly) return undefined;
    const host = hostName(request.headers.host);
    if (host !== undefined && (LOOPBACK_HOSTS.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))) return undefined;
    return { status: 421, reason: 'this dashboard answers only to a loopback Host (127.0.0.1, localhost, [::1])' };
  }

  /** An API request: `Authorization: Bearer <token>`. */
  checkBearer(request: IncomingMessage): GuardRefusal | undefined {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/.exec(header) : null;
    if (this.isToken(match?.[1])) return undefined;
    return { status: 401, reason: 'missing or wrong token (Authorization: Bearer <token>)' };
  }

  /** A mutation: POST, JSON, the CSRF token, and same-origin when the browser says where it came from. */
  checkMutation(request: IncomingMessage): GuardRefusal | undefined {
    if (request.method !== 'POST') return { status: 405, reason: 'changes are made with POST only' };
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) return { status: 415, reason: 'the body must be application/json' };
    const csrf = request.headers['x-csrf-token'];
    if (typeof csrf !== 'string' || !sameSecret(csrf, this.csrfToken)) {
      return { status: 403, reason: 'missing or wrong X-CSRF-Token (reload the page)' };
    }
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { status: 403, reason: `cross-site request refused (Sec-Fetch-Site: ${String(site)})` };
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) {
      return { status: 403, reason: 'cross-origin request refused (Origin is not this dashboard)' };
    }
    return undefined;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The host part of a `Host` header, lower case, without the port (IPv6 keeps its brackets). */
function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? undefined : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/** True when `host` (as given to listen) only accepts connections from this machine. */
export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
