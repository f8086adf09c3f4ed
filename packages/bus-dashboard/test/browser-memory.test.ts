/**
 * The dashboard in Chromium over the memory backend (in-process: a memory bus is visible only in
 * its own process): the shared scenarios, plus what the page itself must get right whatever the
 * backend: markup in data never runs, 1280x800 and a narrow window, the keyboard, no layout shift
 * while the tail streams, and at most 200 rows in the DOM with 10,000 dead letters. It saves the
 * screenshots the README shows (docs/*.png).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createMessageBus } from '@woodwork/bus-memory';
import type { MessageBus } from '@woodwork/bus-core';
import { startDashboard, type Dashboard } from '../src/index.js';
import { closeBrowser, layoutShiftSum, openPage, screenshotPath } from './support/browser.js';
import { describeDashboardInBrowser, id } from './support/scenarios.js';

describeDashboardInBrowser('memory', async () => createMessageBus({ closeTimeoutMs: 100 }), { screenshots: true });

describe('the page in Chromium (memory bus)', () => {
  const buses: MessageBus[] = [];
  const dashboards: Dashboard[] = [];
  const start = async (options: Parameters<typeof createMessageBus>[0] = {}) => {
    const bus = await createMessageBus({ closeTimeoutMs: 100, ...options });
    buses.push(bus);
    const dashboard = await startDashboard(bus, { port: 0, refreshMs: 500 });
    dashboards.push(dashboard);
    return { bus, dashboard };
  };
  afterAll(async () => {
    await Promise.all(dashboards.map((d) => d.close()));
    await Promise.all(buses.map((b) => b.close()));
    await closeBrowser();
  });

  const XSS_PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=(window.__xss||0)+1</script>';

  it('HTML and script in a payload or an error text show as text and never run (list, record, tail, overview)', async () => {
    const { bus, dashboard } = await start();
    const group = `xss-${id()}`;
    await bus.subscribe(
      'dash.xss',
      () => {
        throw new Error(`failed on ${XSS_PAYLOAD}`);
      },
      { group },
    );
    await bus.publish({ sessionId: 'x1', eventType: 'dash.xss', componentSource: 'test', payload: { html: XSS_PAYLOAD }, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(1);
    const [record] = await bus.getDeadLetterMessages(10, { group });

    const { page, context, errors } = await openPage(`${dashboard.url}#dead-letters`);
    try {
      const row = page.locator(`#dl-body tr[data-id="${record!.id}"]`);
      await row.waitFor();
      expect(await row.locator('td.error-cell').textContent()).toContain('<img src=x onerror=');
      await row.locator('a').click();
      await page.locator('#record-envelope', { hasText: '<img src=x onerror=' }).waitFor();
      expect(await page.locator('#record-error').textContent()).toContain('<script>window.__xss');

      await page.goto(`${dashboard.url}#tail`);
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      const { messageId } = await bus.publish({ sessionId: 'x2', eventType: 'dash.shown', componentSource: 'test', payload: { html: XSS_PAYLOAD } });
      await page.locator(`#tail-window .tail-row[data-message-id="${messageId}"]`, { hasText: '<img src=x' }).waitFor();

      await page.goto(`${dashboard.url}#overview`);
      await page.locator(`#groups-body tr[data-group="${group}"]`).waitFor();

      const seen = await page.evaluate(() => ({
        xss: (window as unknown as { __xss?: number }).__xss,
        images: document.querySelectorAll('img').length,
        scripts: document.querySelectorAll('script').length,
        violations: (window as unknown as { __cspViolations: string[] }).__cspViolations,
      }));
      // Nothing ran, no element was made from the data, and the CSP never had to block anything.
      expect(seen).toEqual({ xss: undefined, images: 0, scripts: 1, violations: [] });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('drops the token from the address bar; a reload keeps working (the tab keeps it), a wrong token gets the form', async () => {
    const { dashboard } = await start();
    const { page, context, errors } = await openPage(`${dashboard.url}#overview`);
    try {
      await page.locator('#backend', { hasText: 'backend: memory' }).waitFor();
      expect(page.url()).toBe(`http://127.0.0.1:${dashboard.port}/#overview`);
      await page.reload();
      await page.locator('#backend', { hasText: 'backend: memory' }).waitFor();
      expect(page.url()).not.toContain(dashboard.token);
      const other = await context.newPage();
      await other.goto(`http://127.0.0.1:${dashboard.port}/?token=not-the-token-at-all#overview`);
      await other.locator('#unlock-token').waitFor();
      expect(await other.locator('h1').textContent()).toBe('Token needed');
      await other.fill('#unlock-token', dashboard.token);
      await other.press('#unlock-token', 'Enter');
      await other.locator('#backend', { hasText: 'backend: memory' }).waitFor();
      // The reload and the wrong token each got the 401 form first, which Chromium logs; nothing else.
      expect(errors.filter((e) => !/status of 401 \(Unauthorized\)/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('works at 1280x800 and in a narrow window (390x800): every page fits its width, nav and actions visible', async () => {
    const { bus, dashboard } = await start();
    const group = `fit-${id()}`;
    await bus.subscribe('dash.fit', () => Promise.reject(new Error('no room at the inn')), { group });
    for (let i = 0; i < 3; i++) await bus.publish({ sessionId: `fit-${i}`, eventType: 'dash.fit', componentSource: 'checkout-service', payload: { i }, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(3);
    for (const viewport of [
      { width: 1280, height: 800, name: 'wide' },
      { width: 390, height: 800, name: 'narrow' },
    ]) {
      const { page, context, errors } = await openPage(`${dashboard.url}#overview`, viewport);
      try {
        for (const view of ['overview', 'dead-letters', 'tail']) {
          await page.evaluate((hash) => (location.hash = hash), view);
          await page.locator(`#page-${view}:not([hidden])`).waitFor();
          if (view === 'overview') await page.locator(`#groups-body tr[data-group="${group}"]`).waitFor();
          if (view === 'dead-letters') await page.locator('#dl-body tr').first().waitFor();
          if (view === 'tail') await page.locator('#tail-state', { hasText: 'live' }).waitFor();
          const fit = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
          expect(fit.scrollWidth, `${view} at ${viewport.width}px`).toBeLessThanOrEqual(fit.width);
          for (const selector of ['nav a[data-page="overview"]', 'nav a[data-page="dead-letters"]', 'nav a[data-page="tail"]']) {
            expect(await page.locator(selector).isVisible(), `${selector} at ${viewport.width}px`).toBe(true);
          }
          if (view === 'dead-letters') expect(await page.locator('#dl-redrive-filter').isVisible()).toBe(true);
          if (viewport.name === 'narrow') await page.screenshot({ path: screenshotPath(`narrow-${view}`), fullPage: true });
        }
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    }
  });

  it('is keyboard reachable: Tab to the nav, a filter, a record, its actions; Enter opens, Escape cancels', async () => {
    const { bus, dashboard } = await start();
    const group = `keys-${id()}`;
    await bus.subscribe('dash.keys', () => Promise.reject(new Error('nope')), { group });
    await bus.publish({ sessionId: 'k1', eventType: 'dash.keys', componentSource: 'test', payload: {}, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(1);
    const { page, context, errors } = await openPage(`${dashboard.url}#overview`);
    const focused = () => page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return a ? `${a.tagName.toLowerCase()}#${a.id}|${a.getAttribute('data-page') ?? ''}|${a.getAttribute('name') ?? ''}|${a.getAttribute('aria-label') ?? a.textContent?.trim() ?? ''}` : '';
    });
    const tabTo = async (matches: (f: string) => boolean, most = 40): Promise<string> => {
      for (let i = 0; i < most; i++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        if (matches(f)) return f;
      }
      throw new Error(`not reached with Tab; focus is on ${await focused()}`);
    };
    try {
      await page.locator('#groups-body tr').first().waitFor();
      await tabTo((f) => f.includes('|dead-letters|'));
      await page.keyboard.press('Enter');
      await page.locator('#page-dead-letters:not([hidden])').waitFor();
      await tabTo((f) => f.includes('|group|'));
      await page.keyboard.type(group);
      await page.keyboard.press('Enter');
      await page.locator('#dl-body tr').first().waitFor();
      await tabTo((f) => f.startsWith('input#') && f.includes('Select dead letter'));
      await page.keyboard.press('Space');
      await page.locator('#dl-redrive-selected', { hasText: '(1)' }).waitFor();
      await tabTo((f) => f.startsWith('a#') && f.includes('Open dead letter'));
      await page.keyboard.press('Enter');
      await page.locator('#page-record:not([hidden])').waitFor();
      await page.locator('#record-purge:not([disabled])').waitFor();
      await tabTo((f) => f.startsWith('button#record-purge'));
      await page.keyboard.press('Enter');
      await page.locator('#confirm[open]').waitFor();
      expect(await focused()).toMatch(/^button#confirm-cancel/);
      await page.keyboard.press('Escape');
      await page.locator('#record-result', { hasText: 'Purge cancelled.' }).waitFor();
      expect(await bus.getDeadLetterMessages(10, { group })).toHaveLength(1);
      await tabTo((f) => f.includes('|tail|'), 60);
      await page.keyboard.press('Enter');
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      await tabTo((f) => f.startsWith('div#tail-scroller'));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('layout shifts sum to 0 while 100 messages stream into the tail, and the tail keeps a fixed set of rows', async () => {
    const { bus, dashboard } = await start();
    const { page, context, errors } = await openPage(`${dashboard.url}#tail`);
    try {
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      const rowsBefore = await page.locator('#tail-window .tail-row').count();
      const before = await layoutShiftSum(page);
      for (let i = 0; i < 100; i++) {
        await bus.publish({ sessionId: `ls-${i % 7}`, eventType: 'dash.stream', componentSource: 'load', payload: { i, text: 'x'.repeat(i * 3) } });
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 30));
      }
      await page.locator('#tail-state', { hasText: '100 messages' }).waitFor();
      // Two frames after the last render: every shift of it has been reported.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const after = await layoutShiftSum(page);
      expect(after - before).toBe(0);
      expect(after).toBe(0);
      expect(await page.locator('#tail-window .tail-row').count()).toBe(rowsBefore);
      await page.screenshot({ path: screenshotPath('tail'), fullPage: true });
      expect(rowsBefore).toBeLessThan(60);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('redrives a selection (2 of 3 records, confirmed) and pauses and resumes the tail', async () => {
    const { bus, dashboard } = await start();
    const group = `sel-${id()}`;
    let failing = true;
    const handled: number[] = [];
    await bus.subscribe(
      'dash.sel',
      (e) => {
        if (failing) throw new Error('later');
        handled.push((e.payload as { i: number }).i);
      },
      { group },
    );
    for (let i = 0; i < 3; i++) await bus.publish({ sessionId: `sel-${i}`, eventType: 'dash.sel', componentSource: 'test', payload: { i }, maxRetries: 0 });
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(3);
    const records = await bus.getDeadLetterMessages(10, { group });
    failing = false;
    const { page, context, errors } = await openPage(`${dashboard.url}#dead-letters`);
    try {
      for (const record of records.slice(0, 2)) await page.check(`#dl-body tr[data-id="${record.id}"] input[type="checkbox"]`);
      await page.click('#dl-redrive-selected');
      await page.locator('#confirm[open]').waitFor();
      expect(await page.locator('#confirm-text').textContent()).toContain('Redrive 2 selected dead letters?');
      await page.click('#confirm-ok');
      await page.locator('#dl-result', { hasText: 'Redriven 2 dead letters.' }).waitFor();
      const chosen = records.slice(0, 2).map((r) => (r.envelope.payload as { i: number }).i);
      await expect.poll(() => [...handled].sort()).toEqual(chosen.sort());
      await page.locator('#dl-body tr').first().waitFor();
      expect(await page.locator('#dl-body tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset['id']))).toEqual([records[2]!.id]);

      await page.goto(`${dashboard.url}#tail`);
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      await page.click('#tail-pause');
      for (let i = 0; i < 3; i++) await bus.publish({ sessionId: 'paused', eventType: 'dash.paused', componentSource: 'test', payload: { i } });
      await page.locator('#tail-state', { hasText: '3 waiting' }).waitFor();
      expect(await page.locator('#tail-window .tail-row:not(.empty)').count()).toBe(0);
      expect(await page.locator('#tail-pause').textContent()).toBe('Resume');
      await page.click('#tail-pause');
      await page.locator('#tail-state', { hasText: 'live · 3 messages' }).waitFor();
      // The rows are drawn on the next animation frame after the state line: wait for them.
      await expect.poll(() => page.locator('#tail-window .tail-row:not(.empty)').count()).toBe(3);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('with 10,000 dead letters the page never holds more than 200 rows, pages through them all, and purges a filter as a list of ids', async () => {
    const { bus, dashboard } = await start({ deadLetterMaxSize: 20_000 });
    const group = `many-${id()}`;
    await bus.subscribe('dash.many', () => Promise.reject(new Error('always')), { group, concurrency: 64 });
    for (let i = 0; i < 10_000; i++) {
      await bus.publish({ sessionId: `m${i % 500}`, eventType: 'dash.many', componentSource: 'test', payload: { i }, maxRetries: 0 });
    }
    await expect.poll(async () => (await bus.healthCheck()).metrics.deadLetterQueueSize, { timeout: 150_000 }).toBe(10_000);

    const { page, context, errors } = await openPage(`${dashboard.url}#dead-letters`);
    try {
      await page.evaluate(() => {
        const w = window as unknown as { __maxRows: number };
        w.__maxRows = 0;
        const count = () => (w.__maxRows = Math.max(w.__maxRows, document.querySelectorAll('tr, .tail-row').length));
        new MutationObserver(count).observe(document.body, { childList: true, subtree: true });
        count();
      });
      await page.locator('#dl-count', { hasText: '10,000 dead letters' }).waitFor();
      await page.selectOption('#dl-page-size', '200');
      await page.locator('#dl-page', { hasText: 'Page 1 of 50' }).waitFor();
      for (let p = 2; p <= 4; p++) {
        await page.click('#dl-next');
        await page.locator('#dl-page', { hasText: `Page ${p} of 50` }).waitFor();
      }
      await page.click('#dl-last');
      await page.locator('#dl-page', { hasText: 'Page 50 of 50' }).waitFor();
      expect(await page.locator('#dl-body tr').count()).toBe(200);
      // The header rows of the two tables count too: the whole document stays within 200 data rows.
      const maxRows = await page.evaluate(() => (window as unknown as { __maxRows: number }).__maxRows);
      expect(maxRows).toBeLessThanOrEqual(200 + 2 + 1);

      await page.fill('#dl-filter input[name="group"]', group);
      await page.click('#dl-filter button[type="submit"]');
      await page.locator('#dl-page', { hasText: 'Page 1 of 50' }).waitFor();
      await page.click('#dl-purge-filter');
      await page.locator('#confirm[open]').waitFor();
      expect(await page.locator('#confirm-text').textContent()).toContain(`10,000 dead letters (every dead letter with group ${group})`);
      await page.click('#confirm-ok');
      await page.locator('#dl-result', { hasText: 'Purged 10,000 dead letters.' }).waitFor({ timeout: 120_000 });
      expect(await bus.getDeadLetterMessages(10)).toEqual([]);
      await page.locator('#dl-empty').waitFor();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
    // A hang guard for the heaviest test (10,000 publishes, a page of 200 rows, a purge of 10,000)
    // on a machine shared by many test runs; it takes seconds when the machine is quiet.
  }, 400_000);
});
