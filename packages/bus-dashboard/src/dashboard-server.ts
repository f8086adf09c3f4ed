/**
 * `startDashboard(bus, options)`: a `node:http` server over any `MessageBus`, with the page and its
 * JSON API. Routes (every one needs the token; see request-guard.ts):
 *
 *   GET  /?token=T                    the page (or, without the right token, a page asking for it)
 *   GET  /api/overview                healthCheck(), secrets redacted
 *   GET  /api/dead-letters            one page of the table: ?group&eventType&sessionId&olderThanMs&newerThanMs&offset&limit
 *   GET  /api/dead-letters/ids        every id the same filter matches (an action on a filter)
 *   GET  /api/dead-letters/record?id  one record: envelope, error, attempts, source
 *   POST /api/dead-letters/redrive    { ids: [...] } -> { redriven, skipped, notFound }
 *   POST /api/dead-letters/purge      { ids: [...] } -> { purged, notFound }
 *   GET  /api/tail                    server-sent events of an observer: ?sessionId&eventType
 *
 * The dashboard never closes the bus: it belongs to the caller.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BusError, redactSecrets, type MessageBus } from '@woodwork/bus-core';
import { DeadLetterListing, parseDeadLetterQuery, parseIds, parsePaging } from './dead-letter-query.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http-io.js';
import { LiveTails, type TailFilter } from './live-tail.js';
import { resolveDashboardOptions, type DashboardOptions } from './options.js';
import { readOverview } from './overview.js';
import { loadPageFiles, sendLocked, sendPage, type PageFiles } from './page.js';
import { RequestGuard, isLoopbackAddress } from './request-guard.js';

export interface Dashboard {
  /** The link to open: `http://host:port/?token=...`. */
  readonly url: string;
  readonly host: string;
  /** The port it listens on (the one picked when `port` was 0). */
  readonly port: number;
  readonly token: string;
  /** Live tails open now. */
  readonly openTails: number;
  /** Ends the live tails (removing their observer groups) and stops listening. Leaves the bus open. */
  close(): Promise<void>;
}

/** The dashboard could not start listening (address in use, not allowed, unknown host). */
export class DashboardListenError extends Error {
  override readonly name = 'DashboardListenError';
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startDashboard(bus: MessageBus, options?: DashboardOptions): Promise<Dashboard> {
  if (typeof (bus as Partial<MessageBus> | null)?.healthCheck !== 'function') {
    throw new TypeError('startDashboard needs a MessageBus (from createMessageBus of a woodwork bus backend)');
  }
  const resolved = resolveDashboardOptions(options);
  const files = await loadPageFiles();
  const guard = new RequestGuard(resolved.token, isLoopbackAddress(resolved.host));
  const listing = new DeadLetterListing(bus, resolved.maxDeadLetterScan);
  const tails = new LiveTails(bus, resolved.maxTails);
  const context: RouteContext = { bus, guard, listing, tails, files, refreshMs: resolved.refreshMs, maxIds: resolved.maxDeadLetterScan };

  const server = createServer((request, response) => {
    route(context, request, response).catch((error: unknown) => answerError(response, error));
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await listen(server, resolved.port, resolved.host);
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostInUrl}:${port}/?token=${resolved.token}`,
    host: resolved.host,
    port,
    token: resolved.token,
    get openTails() {
      return tails.size;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await tails.closeAll();
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}

interface RouteContext {
  bus: MessageBus;
  guard: RequestGuard;
  listing: DeadLetterListing;
  tails: LiveTails;
  files: PageFiles;
  refreshMs: number;
  maxIds: number;
}

async function route(c: RouteContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const refusedHost = c.guard.checkHost(request);
  if (refusedHost) return sendError(response, refusedHost.status, refusedHost.reason);
  const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
  if (url.pathname === '/') {
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendError(response, 405, 'the page is read with GET');
    if (c.guard.isToken(url.searchParams.get('token'))) return sendPage(response, c.files, { csrfToken: c.guard.csrfToken, refreshMs: c.refreshMs });
    return sendLocked(response, c.files);
  }
  const refused = c.guard.checkBearer(request);
  if (refused) return sendError(response, refused.status, refused.reason);

  const params = url.searchParams;
  switch (url.pathname) {
    case '/api/overview':
      onlyGet(request);
      return sendJson(response, 200, await readOverview(c.bus));
    case '/api/dead-letters': {
      onlyGet(request);
      const { offset, limit } = parsePaging(params);
      return sendJson(response, 200, await c.listing.page(parseDeadLetterQuery(params), offset, limit));
    }
    case '/api/dead-letters/ids':
      onlyGet(request);
      return sendJson(response, 200, await c.listing.matchingIds(parseDeadLetterQuery(params)));
    case '/api/dead-letters/record': {
      onlyGet(request);
      const id = params.get('id');
      if (!id) throw new HttpError(400, 'id is required');
      const record = await c.listing.record(id);
      if (record === undefined) throw new HttpError(404, 'no dead letter with this id (redriven or purged already?)');
      return sendJson(response, 200, record);
    }
    case '/api/dead-letters/redrive':
    case '/api/dead-letters/purge': {
      const refusedMutation = c.guard.checkMutation(request);
      if (refusedMutation) return sendError(response, refusedMutation.status, refusedMutation.reason);
      const ids = parseIds(await readJsonBody(request, MAX_BODY_BYTES), c.maxIds);
      const result = url.pathname.endsWith('/redrive') ? await c.listing.redrive(ids) : await c.listing.purge(ids);
      return sendJson(response, 200, result);
    }
    case '/api/tail': {
      onlyGet(request);
      const query = parseDeadLetterQuery(new URLSearchParams(pick(params, ['sessionId', 'eventType'])));
      const filter: TailFilter = {
        ...(query.sessionId === undefined ? {} : { sessionId: query.sessionId }),
        ...(query.eventType === undefined ? {} : { eventType: query.eventType }),
      };
      return c.tails.serve(response, filter);
    }
    default:
      throw new HttpError(404, 'no such page or API');
  }
}

function onlyGet(request: IncomingMessage): void {
  if (request.method !== 'GET') throw new HttpError(405, 'this API is read with GET');
}

function pick(params: URLSearchParams, keys: readonly string[]): Array<[string, string]> {
  return keys.flatMap((key) => {
    const value = params.get(key);
    return value === null ? [] : [[key, value] as [string, string]];
  });
}

function answerError(response: ServerResponse, error: unknown): void {
  if (error instanceof HttpError) return sendError(response, error.status, error.message);
  // A bad filter reaching the bus (InvalidConfigError, InvalidMessageError) is the client's; a down
  // server is 503; the text is redacted either way.
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof BusError) {
    const status = error.code === 'INVALID_CONFIG' || error.code === 'INVALID_MESSAGE' ? 400 : error.code === 'BACKEND_UNAVAILABLE' ? 503 : 500;
    return sendError(response, status, message);
  }
  sendError(response, 500, message);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const why =
        error.code === 'EADDRINUSE'
          ? 'the port is in use (choose another port, or 0 for a free one)'
          : error.code === 'EACCES'
            ? 'not allowed (ports below 1024 need privileges)'
            : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
              ? 'no such address on this machine'
              : error.message;
      reject(new DashboardListenError(`cannot listen on ${host}:${port}: ${why}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
