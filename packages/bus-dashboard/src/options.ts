/**
 * The options of `startDashboard`, checked once: a bad value is an `InvalidConfigError` naming the
 * option and its rule, before anything listens.
 */
import { randomBytes } from 'node:crypto';
import { InvalidConfigError } from '@woodwork/bus-core';

export interface DashboardOptions {
  /** TCP port; 0 takes a free one. Default 4319. */
  port?: number;
  /**
   * Address to listen on. Default `127.0.0.1`: only this machine can connect. Anything else exposes
   * the dashboard (plain HTTP, the token in clear) to the network: put it behind a TLS proxy.
   */
  host?: string;
  /**
   * The token every request must carry (16-256 characters: letters, digits, `-`, `_`, `.`, `~`).
   * Default: a random one made at start (192 bits), returned as `token` and in `url`.
   */
  token?: string;
  /** How often the overview page refreshes itself, ms. Default 2000. */
  refreshMs?: number;
  /**
   * Most dead-letter records one listing reads through `getDeadLetterMessages` (filters by age and
   * paging happen over them). Default 20,000; a listing that reaches it says so (`truncated`).
   */
  maxDeadLetterScan?: number;
  /** Live tails (observer subscriptions) open at once; one more is refused with 429. Default 8. */
  maxTails?: number;
}

export interface ResolvedDashboardOptions {
  port: number;
  host: string;
  token: string;
  refreshMs: number;
  maxDeadLetterScan: number;
  maxTails: number;
}

export const DEFAULT_PORT = 4319;
const TOKEN_RE = /^[A-Za-z0-9._~-]{16,256}$/;
const KEYS = ['port', 'host', 'token', 'refreshMs', 'maxDeadLetterScan', 'maxTails'];

export function resolveDashboardOptions(options: DashboardOptions | undefined): ResolvedDashboardOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError('options', 'must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw new InvalidConfigError(key, 'is not a dashboard option', KEYS);
  }
  const port = integer(options.port, 'port', DEFAULT_PORT, 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.trim() === '' || /[\s/]/.test(host)) {
    throw new InvalidConfigError('host', 'must be an address or host name to listen on, such as 127.0.0.1');
  }
  let token = options.token;
  if (token === undefined) token = randomBytes(24).toString('base64url');
  else if (typeof token !== 'string' || !TOKEN_RE.test(token)) {
    throw new InvalidConfigError('token', 'must be 16 to 256 characters of letters, digits, "-", "_", "." or "~"');
  }
  return {
    port,
    host,
    token,
    refreshMs: integer(options.refreshMs, 'refreshMs', 2_000, 250, 3_600_000),
    maxDeadLetterScan: integer(options.maxDeadLetterScan, 'maxDeadLetterScan', 20_000, 1, 10_000_000),
    maxTails: integer(options.maxTails, 'maxTails', 8, 1, 1_000),
  };
}

function integer(value: unknown, key: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(key, `must be an integer from ${min} to ${max}; got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}
