/**
 * The dead-letter actions and the tail controls the other browser tests do not reach, in Chromium
 * over the memory bus: filters by event type, session and age typed into the page; purge of one
 * record, of a selection, redrive of everything a filter matches, each confirmed and its result
 * shown, and a cancelled one changing nothing; the tail filtered by event type, paused and resumed
 * several times on its one observer group, which goes when the page leaves the tail or closes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createMessageBus } from '@woodwork/bus-memory';
import type { MessageBus } from '@woodwork/bus-core';
import { startDashboard, type Dashboard } from '../src/index.js';
import { closeBrowser, openPage } from './support/browser.js';
import { id } from './support/scenarios.js';

describe('dead-letter actions and tail controls in Chromium (memory bus)', () => {
  const buses: MessageBus[] = [];
  const dashboards: Dashboard[] = [];
  const start = async () => {
    const bus = await createMessageBus({ closeTimeoutMs: 100 });
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

  it('filters by event type, session and age; purges one, purges a selection, redrives a filter (each confirmed); a cancel changes nothing', async () => {
    const { bus, dashboard } = await start();
    const group = `act-${id()}`;
    let failing = true;
    const handled: string[] = [];
    await bus.subscribe(
      '*',
      (e) => {
        if (failing) throw new Error('not yet');
        handled.push(e.sessionId);
      },
      { group },
    );
    for (const [eventType, sessionId] of [
      ['dash.act.one', 'a1'],
      ['dash.act.one', 'a2'],
      ['dash.act.one', 'a3'],
      ['dash.act.two', 'b1'],
      ['dash.act.two', 'b2'],
    ] as const) {
      await bus.publish({ sessionId, eventType, componentSource: 'test', payload: {}, maxRetries: 0 });
    }
    await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(5);
    failing = false;
    const remaining = async () => (await bus.getDeadLetterMessages(10, { group })).map((r) => r.envelope.sessionId).sort();

    const { page, context, errors } = await openPage(`${dashboard.url}#dead-letters`);
    const shown = (column: number) => page.locator('#dl-body tr').evaluateAll((rows, c) => rows.map((r) => r.children[c]!.textContent).sort(), column);
    const apply = async (fields: Record<string, string>, expected: string) => {
      await page.click('#dl-filter button[type="reset"]');
      for (const [name, value] of Object.entries(fields)) await page.fill(`#dl-filter input[name="${name}"]`, value);
      await page.click('#dl-filter button[type="submit"]');
      await page.locator('#dl-count', { hasText: new RegExp(`^${expected}`) }).waitFor();
    };
    try {
      await page.locator('#dl-count', { hasText: /^5 dead letters/ }).waitFor();
      // Age, by the server over what getDeadLetterMessages returns: all five failed just now.
      await apply({ olderThanMin: '60' }, '0 dead letters');
      await page.locator('#dl-empty').waitFor();
      await apply({ newerThanMin: '60' }, '5 dead letters');
      await apply({ eventType: 'dash.act.two' }, '2 dead letters');
      expect(await shown(3)).toEqual(['dash.act.two', 'dash.act.two']);
      await apply({ sessionId: 'a1' }, '1 dead letter');
      expect(await shown(4)).toEqual(['a1']);

      // Purge one, from its page.
      await page.locator('#dl-body tr a').click();
      await page.locator('#record-purge:not([disabled])').waitFor();
      await page.click('#record-purge');
      await page.locator('#confirm[open]').waitFor();
      expect(await page.locator('#confirm-text').textContent()).toContain('This cannot be undone.');
      await page.click('#confirm-ok');
      await page.locator('#record-result', { hasText: 'Purged 1 dead letter.' }).waitFor();
      expect(await remaining()).toEqual(['a2', 'a3', 'b1', 'b2']);

      // A redrive of a filter, cancelled: nothing moves.
      await page.click('#record-back');
      await apply({ eventType: 'dash.act.two' }, '2 dead letters');
      await page.click('#dl-redrive-filter');
      await page.locator('#confirm[open]').waitFor();
      expect(await page.locator('#confirm-text').textContent()).toContain('Redrive 2 dead letters (every dead letter with event type dash.act.two)?');
      await page.click('#confirm-cancel');
      await page.locator('#dl-result', { hasText: 'Redrive cancelled.' }).waitFor();
      expect(await remaining()).toEqual(['a2', 'a3', 'b1', 'b2']);
      expect(handled).toEqual([]);

      // The same, confirmed: the handler runs for both and they leave the list.
      await page.click('#dl-redrive-filter');
      await page.locator('#confirm[open]').waitFor();
      await page.click('#confirm-ok');
      await page.locator('#dl-result', { hasText: 'Redriven 2 dead letters.' }).waitFor();
      await expect.poll(() => [...handled].sort()).toEqual(['b1', 'b2']);
      await page.locator('#dl-empty').waitFor();
      expect(await remaining()).toEqual(['a2', 'a3']);

      // Purge a selection: every record on the page.
      await apply({}, '2 dead letters');
      await page.check('#dl-select-page');
      await page.locator('#dl-purge-selected', { hasText: '(2)' }).waitFor();
      await page.click('#dl-purge-selected');
      await page.locator('#confirm[open]').waitFor();
      expect(await page.locator('#confirm-text').textContent()).toContain('Purge 2 selected dead letters?');
      await page.click('#confirm-ok');
      await page.locator('#dl-result', { hasText: 'Purged 2 dead letters.' }).waitFor();
      await page.locator('#dl-empty').waitFor();
      expect(await remaining()).toEqual([]);
      expect([...handled].sort()).toEqual(['b1', 'b2']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('the tail filters by event type; pause and resume keep its one observer group; leaving the tail or closing the page removes it', async () => {
    const { bus, dashboard } = await start();
    // A consumer group of the app's own: the tail must neither consume from it nor change it.
    const appGroup = `app-${id()}`;
    const consumed: string[] = [];
    await bus.subscribe('*', (e) => void consumed.push(e.messageId), { group: appGroup });
    const groups = async () => (await bus.healthCheck()).groups.map((g) => g.group).sort();
    const before = await groups();
    const { page, context, errors } = await openPage(`${dashboard.url}#tail`);
    const rows = () => page.locator('#tail-window .tail-row:not(.empty)').evaluateAll((r) => r.map((row) => (row as HTMLElement).dataset['messageId']));
    // One session: its messages reach the observer in publish order.
    const session = `t-${id()}`;
    const send = async (eventType: string) => (await bus.publish({ sessionId: session, eventType, componentSource: 'test', payload: { eventType } })).messageId;
    try {
      await page.fill('#tail-filter input[name="eventType"]', 'dash.tail.want');
      await page.click('#tail-filter button[type="submit"]');
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      await expect.poll(() => dashboard.openTails).toBe(1);
      const live = await groups();
      expect(live).toHaveLength(before.length + 1);
      const observer = live.find((g) => !before.includes(g))!;
      expect(observer).toMatch(/^observer-/);

      await send('dash.tail.other');
      const first = await send('dash.tail.want');
      await page.locator(`#tail-window .tail-row[data-message-id="${first}"]`).waitFor();

      const seen = [first];
      // The rows in view are the newest messages (the tail follows the end; rows are a fixed pool).
      // The state line changes at once, the rows on the next animation frame: wait for them.
      const expectNewest = async () => {
        await expect.poll(async () => {
          const inView = await rows();
          return inView.length > 0 && inView.every((m, i) => m === seen[seen.length - inView.length + i]);
        }).toBe(true);
        return rows();
      };
      for (let round = 0; round < 3; round++) {
        const beforePause = await expectNewest();
        await page.click('#tail-pause');
        await page.locator('#tail-pause', { hasText: 'Resume' }).waitFor();
        const held = [await send('dash.tail.want'), await send('dash.tail.other'), await send('dash.tail.want')].filter((_, i) => i !== 1);
        await page.locator('#tail-state', { hasText: `${held.length} waiting` }).waitFor();
        expect(await rows()).toEqual(beforePause);
        // Paused on the page: the stream and its one observer group stay as they were.
        expect(await groups()).toEqual(live);
        expect(dashboard.openTails).toBe(1);
        await page.click('#tail-pause');
        seen.push(...held);
        await page.locator('#tail-state', { hasText: `live · ${seen.length} messages` }).waitFor();
        await expectNewest();
        expect(await groups()).toEqual(live);
      }
      // Every message still reached the app's own group: the tail took nothing from it.
      await expect.poll(() => consumed.length).toBe(2 + 3 * 3);

      // Leaving the tail page ends the stream and its group; coming back makes a new one.
      await page.click('nav a[data-page="overview"]');
      await expect.poll(() => dashboard.openTails).toBe(0);
      await expect.poll(groups).toEqual(before);
      await page.click('nav a[data-page="tail"]');
      await page.locator('#tail-state', { hasText: 'live' }).waitFor();
      await expect.poll(async () => (await groups()).length).toBe(before.length + 1);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
    await expect.poll(() => dashboard.openTails).toBe(0);
    await expect.poll(groups).toEqual(before);
  });
});
