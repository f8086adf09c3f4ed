/**
 * The dashboard's HTTP side without a browser: options, the token on every request, the Host
 * check, CSRF on mutations, redaction of the connection's secrets, paging and age filters done by
 * the server over getDeadLetterMessages, and the live tail's observer group removed when the
 * client goes away.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, type DeadLetterRecord, type MessageBus } from '@woodwork/bus-core';
import { createMessageBus } from '@woodwork/bus-memory';
import { DashboardListenError, startDashboard, type Dashboard } from '../src/index.js';
import { chromiumPath } from './support/browser.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(bus: MessageBus = createMessageBus({ closeTimeoutMs: 50 }), options: Parameters<typeof startDashboard>[1] = {}): Promise<{ bus: MessageBus; dashboard: Dashboard; base: string }> {
  const dashboard = await startDashboard(bus, { port: 0, ...options });
  cleanups.push(() => bus.close(), () => dashboard.close());
  return { bus, dashboard, base: `http://127.0.0.1:${dashboard.port}` };
}

const auth = (dashboard: Dashboard) => ({ Authorization: `Bearer ${dashboard.token}` });

/** A raw request (fetch cannot set Host). */
function raw(port: number, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function csrfOf(dashboard: Dashboard): Promise<string> {
  const html = await (await fetch(dashboard.url)).text();
  return /<meta name="csrf-token" content="([^"]+)">/.exec(html)![1]!;
}

async function deadLetters(bus: MessageBus, group: string, n: number, session = 's'): Promise<void> {
  await bus.subscribe('srv.fail', () => Promise.reject(new Error('no')), { group });
  for (let i = 0; i < n; i++) await bus.publish({ sessionId: `${session}${i % 3}`, eventType: 'srv.fail', componentSource: 'test', payload: { i }, maxRetries: 0 });
  await expect.poll(async () => (await bus.getDeadLetterMessages(10_000, { group })).length).toBe(n);
}

describe('options', () => {
  it('rejects bad options with an InvalidConfigError naming the option', async () => {
    const bus = createMessageBus();
    cleanups.push(() => bus.close());
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ port: -1 }, 'port'],
      [{ port: 70_000 }, 'port'],
      [{ port: '80' }, 'port'],
      [{ token: 'short' }, 'token'],
      [{ token: 'has spaces in it, sixteen+' }, 'token'],
      [{ host: '' }, 'host'],
      [{ refreshMs: 10 }, 'refreshMs'],
      [{ maxTails: 0 }, 'maxTails'],
      [{ prot: 1 }, 'prot'],
    ];
    for (const [options, key] of bad) {
      const error = await startDashboard(bus, options as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidConfigError);
      expect((error as InvalidConfigError).key).toBe(key);
    }
    await expect(startDashboard({} as MessageBus)).rejects.toThrow(/needs a MessageBus/);
  });

  it('listens on 127.0.0.1 by default with a random 32-character token; a given token is used; a taken port is a clear error', async () => {
    const { dashboard } = await start();
    expect(dashboard.host).toBe('127.0.0.1');
    expect(dashboard.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(dashboard.url).toBe(`http://127.0.0.1:${dashboard.port}/?token=${dashboard.token}`);
    const other = await start(undefined, { token: 'a-token-of-my-own-choosing' });
    expect(other.dashboard.token).toBe('a-token-of-my-own-choosing');
    const bus = createMessageBus();
    cleanups.push(() => bus.close());
    const error = await startDashboard(bus, { port: dashboard.port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DashboardListenError);
    expect((error as Error).message).toMatch(new RegExp(`cannot listen on 127.0.0.1:${dashboard.port}: the port is in use`));
  });
});

describe('the token, the Host and CSRF', () => {
  it('every route needs the token: the page without it is a 401 asking for it (no data, no CSRF token), the API a 401', async () => {
    const { dashboard, base } = await start();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(401);
    const locked = await page.text();
    expect(locked).toContain('Token needed');
    expect(locked).not.toContain('csrf-token');
    expect((await fetch(`${base}/?token=wrong-token-wrong-token-wrong`)).status).toBe(401);
    for (const path of ['/api/overview', '/api/dead-letters', '/api/dead-letters/ids', '/api/dead-letters/record?id=x', '/api/tail', '/nowhere']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { Authorization: 'Bearer nope' } })).status, path).toBe(401);
      // The token in the query string is for the page only.
      expect((await fetch(`${base}${path}?token=${dashboard.token}`)).status, path).toBe(401);
    }
    expect((await fetch(`${base}/nowhere`, { headers: auth(dashboard) })).status).toBe(404);
    const ok = await fetch(dashboard.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[^']+'(;|$)/);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.headers.get('referrer-policy')).toBe('no-referrer');
    expect(ok.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a Host that is not loopback (DNS rebinding) before anything else', async () => {
    const { dashboard } = await start();
    const evil = await raw(dashboard.port, `/?token=${dashboard.token}`, { Host: `evil.example:${dashboard.port}` });
    expect(evil.status).toBe(421);
    expect((await raw(dashboard.port, '/api/overview', { Host: 'evil.example', ...auth(dashboard) })).status).toBe(421);
    expect((await raw(dashboard.port, '/api/overview', { Host: `localhost:${dashboard.port}`, ...auth(dashboard) })).status).toBe(200);
  });

  it('a redrive or purge needs POST, JSON, the CSRF token and our own origin', async () => {
    const { bus, dashboard, base } = await start();
    await deadLetters(bus, 'csrf', 1);
    const [record] = await bus.getDeadLetterMessages();
    const csrf = await csrfOf(dashboard);
    const body = JSON.stringify({ ids: [record!.id] });
    const post = (headers: Record<string, string>, method = 'POST') => fetch(`${base}/api/dead-letters/purge`, { method, headers: { ...auth(dashboard), ...headers }, body: method === 'GET' ? null : body });
    expect((await post({}, 'GET')).status).toBe(405);
    expect((await post({ 'Content-Type': 'application/json' })).status).toBe(403);
    expect((await post({ 'Content-Type': 'application/json', 'X-CSRF-Token': 'forged' })).status).toBe(403);
    expect((await post({ 'Content-Type': 'text/plain', 'X-CSRF-Token': csrf })).status).toBe(415);
    expect((await post({ 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403);
    expect(await bus.getDeadLetterMessages()).toHaveLength(1);
    const bad = await fetch(`${base}/api/dead-letters/purge`, { method: 'POST', headers: { ...auth(dashboard), 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{"ids": "all"}' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringContaining('ids must be an array') });
    const ok = await post({ 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Origin: base });
    expect(await ok.json()).toEqual({ purged: 1, notFound: [] });
    expect(await bus.getDeadLetterMessages()).toHaveLength(0);
  });
});

describe('what the API shows', () => {
  it('the overview never shows a secret of the connection (URL passwords, tokens, secret-named details)', async () => {
    const bus = createMessageBus();
    const leaky = new Proxy(bus, {
      get(target, key) {
        if (key === 'healthCheck') {
          return async () => ({
            ...(await target.healthCheck()),
            status: 'degraded',
            error: 'cannot reach redis://admin:S3cretPass@db.internal:6379/0',
            details: { url: 'nats://tok3n-value@nats.internal:4222', password: 'hunter2', nested: { authToken: 'abc123', servers: ['rediss://u:pw9@h:6380/?password=q1'] }, port: 6379 },
          });
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { dashboard, base } = await start(leaky);
    const text = await (await fetch(`${base}/api/overview`, { headers: auth(dashboard) })).text();
    for (const secret of ['S3cretPass', 'tok3n-value', 'hunter2', 'abc123', 'pw9', 'q1']) expect(text).not.toContain(secret);
    const overview = JSON.parse(text) as { error: string; details: Record<string, unknown> };
    expect(overview.error).toBe('cannot reach redis://admin:***@db.internal:6379/0');
    expect(overview.details).toMatchObject({ url: 'nats://***@nats.internal:4222', password: '***', port: 6379 });
  });

  it('a dead letter whose error holds a connection URL shows it redacted, in the list and in the record', async () => {
    const { bus, dashboard, base } = await start();
    await bus.subscribe(
      'srv.leak',
      () => {
        throw new Error('lost redis://admin:S3cretPass@db.internal:6379/0', { cause: new Error('auth nats://tok3n-value@nats.internal:4222') });
      },
      { group: 'leaks' },
    );
    await bus.publish({ sessionId: 's', eventType: 'srv.leak', componentSource: 'test', payload: {}, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group: 'leaks' })).length).toBe(1);
    const [stored] = await bus.getDeadLetterMessages(10, { group: 'leaks' });
    // The bus keeps the text as the handler threw it; only what the dashboard shows is redacted.
    expect(stored!.error.message).toContain('S3cretPass');
    const list = await (await fetch(`${base}/api/dead-letters?group=leaks`, { headers: auth(dashboard) })).text();
    const record = await (await fetch(`${base}/api/dead-letters/record?id=${stored!.id}`, { headers: auth(dashboard) })).text();
    for (const text of [list, record]) {
      expect(text).not.toContain('S3cretPass');
      expect(text).toContain('redis://admin:***@db.internal:6379/0');
    }
    expect(record).not.toContain('tok3n-value');
  });

  it('pages, filters by group / event / session and by age on the server, and turns a filter into a list of ids', async () => {
    const bus = createMessageBus({ closeTimeoutMs: 50 });
    await deadLetters(bus, 'ages', 30);
    // Records 0-9 failed an hour ago, the rest just now (their age is what the server filters on).
    const aged = new Proxy(bus, {
      get(target, key) {
        if (key === 'getDeadLetterMessages') {
          return async (limit?: number, filter?: object) =>
            (await target.getDeadLetterMessages(limit, filter)).map((r: DeadLetterRecord) =>
              (r.envelope.payload as { i: number }).i < 10 ? { ...r, lastFailedAt: r.lastFailedAt - 3600 } : r,
            );
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { dashboard, base } = await start(aged);
    const get = async (query: string) => {
      const res = await fetch(`${base}/api/dead-letters${query}`, { headers: auth(dashboard) });
      return { status: res.status, body: (await res.json()) as { total: number; rows: Array<{ id: string; sessionId: string }>; ids: string[]; error: string } };
    };
    const page2 = await get('?limit=7&offset=7');
    expect(page2.body).toMatchObject({ total: 30, offset: 7, limit: 7, truncated: false });
    expect(page2.body.rows).toHaveLength(7);
    const all = (await bus.getDeadLetterMessages(100)).map((r) => r.id);
    expect(page2.body.rows.map((r) => r.id)).toEqual(all.slice(7, 14));
    expect((await get('?olderThanMs=1800000')).body.total).toBe(10);
    expect((await get('?newerThanMs=1800000')).body.total).toBe(20);
    expect((await get('?sessionId=s1')).body.total).toBe(10);
    expect((await get('?sessionId=s1&olderThanMs=1800000')).body.rows.every((r) => r.sessionId === 's1')).toBe(true);
    expect((await get('?group=nope')).body.total).toBe(0);
    expect((await get('?eventType=srv.fail')).body.total).toBe(30);
    const ids = await get('/ids?olderThanMs=1800000');
    expect(ids.body.ids).toEqual(all.slice(0, 10));
    // Bad input: a 400 naming the parameter and its rule.
    expect(await get('?group=has space')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^group /) } });
    expect(await get('?olderThanMs=-5')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^olderThanMs must be an integer/) } });
    expect(await get('?limit=5000')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^limit must be an integer from 1 to 200/) } });
    const missing = await fetch(`${base}/api/dead-letters/record?id=dl-nope`, { headers: auth(dashboard) });
    expect(missing.status).toBe(404);
    const one = await fetch(`${base}/api/dead-letters/record?id=${all[0]}`, { headers: auth(dashboard) });
    expect(await one.json()).toMatchObject({ dead_letter_id: all[0], group: 'ages', error: 'no', envelope: { event_type: 'srv.fail' } });
  });
});

describe('the live tail', () => {
  it('streams an observer as server-sent events, consumes nothing, and removes its group when the client goes away', async () => {
    const { bus, dashboard, base } = await start(undefined, { maxTails: 2 });
    const received: string[] = [];
    await bus.subscribe('srv.seen', (e) => void received.push(e.messageId), { componentId: 'worker' });
    const groupsBefore = (await bus.healthCheck()).groups.length;
    const controller = new AbortController();
    const res = await fetch(`${base}/api/tail?sessionId=t1`, { headers: auth(dashboard), signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) text += (await reader.read()).value ?? '';
    };
    await readUntil('event: ready');
    expect((await bus.healthCheck()).groups.length).toBe(groupsBefore + 1);
    expect(dashboard.openTails).toBe(1);
    const { messageId } = await bus.publish({ sessionId: 't1', eventType: 'srv.seen', componentSource: 'test', payload: { a: '<b>' } });
    await bus.publish({ sessionId: 't2', eventType: 'srv.seen', componentSource: 'test', payload: {} });
    await readUntil(messageId);
    const frame = text.split('\n\n').find((f) => f.includes(messageId))!;
    expect(JSON.parse(frame.split('\ndata: ')[1]!)).toMatchObject({ messageId, sessionId: 't1', eventType: 'srv.seen', payload: '{"a":"<b>"}' });
    // The worker's own group still got it: the tail consumed nothing.
    await expect.poll(() => received.length).toBe(2);
    // A third tail is refused while two are open.
    const second = await fetch(`${base}/api/tail`, { headers: auth(dashboard) });
    const third = await fetch(`${base}/api/tail`, { headers: auth(dashboard) });
    expect(third.status).toBe(429);
    await second.body!.cancel();
    controller.abort();
    await expect.poll(() => dashboard.openTails).toBe(0);
    await expect.poll(async () => (await bus.healthCheck()).groups.length).toBe(groupsBefore);
  });

  it('close() ends open tails and removes their groups, and leaves the bus open', async () => {
    const { bus, dashboard, base } = await start();
    const groupsBefore = (await bus.healthCheck()).groups.length;
    const res = await fetch(`${base}/api/tail?eventType=srv.any`, { headers: auth(dashboard) });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: ready')) text += (await reader.read()).value ?? '';
    await dashboard.close();
    expect((await bus.healthCheck()).groups.length).toBe(groupsBefore);
    await bus.publish({ sessionId: 'x', eventType: 'srv.any', componentSource: 'test', payload: {} });
  });
});

describe('the browser tests', () => {
  it('fail saying what to install when Chromium is missing (never a silent skip)', () => {
    const before = process.env['CHROMIUM_PATH'];
    process.env['CHROMIUM_PATH'] = '/nonexistent/chromium';
    try {
      expect(() => chromiumPath()).toThrow(/Chromium is missing: .* found none at \/nonexistent\/chromium\. Install Debian's package \(apt-get install -y chromium/);
    } finally {
      if (before === undefined) delete process.env['CHROMIUM_PATH'];
      else process.env['CHROMIUM_PATH'] = before;
    }
  });
});
