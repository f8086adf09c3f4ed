/**
 * What every backend's browser test checks, on a real page in Chromium: the overview shows a
 * group's pending count that matches `healthCheck()`, a redrive from the page runs the handler and
 * the record disappears, and the live tail shows a message published after the page opened, and
 * leaves no group behind once the page is closed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { HealthReport, MessageBus } from '@woodwork/bus-core';
import { startDashboard, type Dashboard } from '../../src/index.js';
import { closeBrowser, openPage, screenshotPath } from './browser.js';

export interface ScenarioOptions {
  /** Save the README's screenshots (one backend does). */
  screenshots?: boolean;
}

export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

export const id = (): string => randomBytes(4).toString('hex');

export function describeDashboardInBrowser(backend: string, makeBus: () => Promise<MessageBus>, options: ScenarioOptions = {}): void {
  describe(`dashboard in Chromium over ${backend}`, () => {
    const buses: MessageBus[] = [];
    const dashboards: Dashboard[] = [];
    const start = async (): Promise<{ bus: MessageBus; dashboard: Dashboard }> => {
      const bus = await makeBus();
      buses.push(bus);
      const dashboard = await startDashboard(bus, { port: 0, refreshMs: 500 });
      dashboards.push(dashboard);
      return { bus, dashboard };
    };
    afterAll(async () => {
      await Promise.all(dashboards.map((d) => d.close()));
      // A NATS bus also deletes its prefix's streams, so the shared server keeps no test streams.
      await Promise.all(buses.map((b) => ('deleteNamespace' in b && typeof b.deleteNamespace === 'function' ? (b.deleteNamespace as () => Promise<unknown>)() : b.close())));
      await closeBrowser();
    });

    it("the overview shows a group's pending count that matches healthCheck()", async () => {
      const { bus, dashboard } = await start();
      const group = `pend-${id()}`;
      const hold = gate();
      await bus.subscribe('dash.work', () => hold.opened, { group, concurrency: 1 });
      for (let i = 0; i < 3; i++) await bus.publish({ sessionId: 's1', eventType: 'dash.work', componentSource: 'test', payload: { i } });
      const groupHealth = async () => (await bus.healthCheck()).groups.find((g) => g.group === group);
      await expect.poll(async () => (await groupHealth())?.pending ?? 0, { timeout: 60_000 }).toBeGreaterThan(0);
      const { page, context, errors } = await openPage(`${dashboard.url}#overview`);
      try {
        const cell = page.locator(`#groups-body tr[data-group="${group}"] td.pending`);
        await cell.waitFor();
        // The page refreshes itself: its number and a healthCheck() made at that moment agree.
        await expect
          .poll(async () => {
            const shown = await cell.textContent();
            return shown === String((await groupHealth())?.pending);
          }, { timeout: 60_000 })
          .toBe(true);
        // The design's metrics as the overview's cards, each equal to a healthCheck() of the moment.
        const cards: Array<[string, (m: HealthReport['metrics']) => number]> = [
          ['published', (m) => m.messagesPublishedTotal],
          ['consumed', (m) => m.messagesConsumedTotal],
          ['failed', (m) => m.messagesFailedTotal],
          ['dlq', (m) => m.deadLetterQueueSize],
          ['subscriptions', (m) => m.activeSubscriptions],
          ['violations', (m) => m.orderViolationsTotal],
        ];
        for (const [key, value] of cards) {
          const card = page.locator(`[data-metric="${key}"]`);
          await expect.poll(async () => (await card.textContent()) === value((await bus.healthCheck()).metrics).toLocaleString('en-US'), { timeout: 60_000 }).toBe(true);
        }
        expect(await page.locator('[data-metric="published"]').textContent()).not.toBe('0');
        expect(await page.locator('[data-metric="p99"]').textContent()).toMatch(/^\d+\.\d ms$/);
        // The oldest held message's age, where the backend reports it (core's optional field).
        const reported = (await groupHealth())?.oldestPendingAgeMs;
        const oldest = await page.locator(`#groups-body tr[data-group="${group}"] td.oldest`).textContent();
        if (typeof reported === 'number') expect(oldest).toMatch(/^\d+(\.\d)? (ms|s|min|h|d)$/);
        else expect(oldest).toBe(reported === null ? '–' : 'n/a');
        expect(await page.locator('#backend').textContent()).toBe(`backend: ${backend}`);
        expect(await page.locator('[data-metric="status"]').textContent()).toBe((await bus.healthCheck()).status);
        if (options.screenshots) await page.screenshot({ path: screenshotPath('overview'), fullPage: true });
        expect(errors).toEqual([]);
      } finally {
        hold.open();
        await context.close();
      }
    });

    it('a redrive from the page runs the handler again and the record disappears', async () => {
      const { bus, dashboard } = await start();
      const group = `redrive-${id()}`;
      let failing = true;
      const runs: string[] = [];
      await bus.subscribe(
        'dash.redrive',
        (envelope) => {
          runs.push(envelope.messageId);
          if (failing) throw new Error('downstream is down');
        },
        { group },
      );
      const { messageId } = await bus.publish({ sessionId: 's2', eventType: 'dash.redrive', componentSource: 'test', payload: { order: 42 }, maxRetries: 0 });
      await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length, { timeout: 60_000 }).toBe(1);
      const [record] = await bus.getDeadLetterMessages(10, { group });
      failing = false;

      const { page, context, errors } = await openPage(`${dashboard.url}#dead-letters`);
      try {
        await page.fill('#dl-filter input[name="group"]', group);
        await page.click('#dl-filter button[type="submit"]');
        const row = page.locator(`#dl-body tr[data-id="${record!.id}"]`);
        await row.waitFor();
        expect(await page.locator('#dl-body tr').count()).toBe(1);
        if (options.screenshots) await page.screenshot({ path: screenshotPath('dead-letters'), fullPage: true });
        await row.locator('a').click();
        await page.locator('#record-envelope', { hasText: messageId }).waitFor();
        expect(await page.locator('#record-error').textContent()).toContain('downstream is down');
        if (options.screenshots) await page.screenshot({ path: screenshotPath('dead-letter'), fullPage: true });
        await page.click('#record-redrive');
        await page.locator('#confirm[open]').waitFor();
        expect(await page.locator('#confirm-text').textContent()).toContain(record!.id);
        await page.click('#confirm-ok');
        await page.locator('#record-result', { hasText: 'Redriven 1 dead letter.' }).waitFor();
        await expect.poll(() => runs.filter((m) => m === messageId).length, { timeout: 60_000 }).toBe(2);
        await expect.poll(async () => (await bus.getDeadLetterMessages(10, { group })).length).toBe(0);
        await page.click('#record-back');
        await page.locator('#dl-empty').waitFor();
        expect(await page.locator('#dl-body tr').count()).toBe(0);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
    });

    it('the live tail shows a message published after the page opened, and leaves no group behind when the page closes', async () => {
      const { bus, dashboard } = await start();
      const session = `tail-${id()}`;
      const groupsBefore = (await bus.healthCheck()).groups.map((g) => g.group).sort();
      const { page, context, errors } = await openPage(`${dashboard.url}#tail`);
      try {
        await page.fill('#tail-filter input[name="sessionId"]', session);
        await page.click('#tail-filter button[type="submit"]');
        await page.locator('#tail-state', { hasText: 'live' }).waitFor();
        expect(dashboard.openTails).toBe(1);
        const { messageId } = await bus.publish({ sessionId: session, eventType: 'dash.tailed', componentSource: 'test', payload: { note: 'seen live' } });
        await bus.publish({ sessionId: `other-${id()}`, eventType: 'dash.tailed', componentSource: 'test', payload: { note: 'another session' } });
        const row = page.locator(`#tail-window .tail-row[data-message-id="${messageId}"]`);
        await row.waitFor({ timeout: 60_000 });
        expect(await row.textContent()).toContain('seen live');
        // Filtered by session: the other session's message never shows.
        await new Promise((r) => setTimeout(r, 300));
        expect(await page.locator('#tail-window .tail-row:not(.empty)').count()).toBe(1);
        expect(errors).toEqual([]);
      } finally {
        await context.close();
      }
      await expect.poll(() => dashboard.openTails, { timeout: 60_000 }).toBe(0);
      await expect.poll(async () => (await bus.healthCheck()).groups.map((g) => g.group).sort(), { timeout: 60_000 }).toEqual(groupsBefore);
    });
  });
}
