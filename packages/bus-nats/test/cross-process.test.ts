/**
 * What the contract says of `deleteSessionQueue`, `observe` and `durable: false`, with the buses in
 * different OS processes (shared NATS, a prefix per test): the parent test process publishes and
 * deletes; child processes (support/cross-child.mjs) subscribe and report each attempt.
 *
 * - deleteSessionQueue in one process stops another process's running attempt of the session
 *   (its signal aborts with SessionDeletedError) and drops what that process held of it (queued
 *   behind the running one), in its component group and in its observer alike; later messages of
 *   the session run there as usual.
 * - An observer in one process sees every message published in another, targeted ones included,
 *   while the target, subscribing later in a third process, still finds its messages waiting.
 * - A `durable: false` group shared by two processes outlives the first one's leaving (the other
 *   gets everything published after) and ends with the last one: another bus no longer sees it.
 * - A dead letter of a group in one process, redriven from another, goes back to that group only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit, type SubscribeOptions } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { sharedNatsUrl } from './support/nats-server.js';

const childScript = fileURLToPath(new URL('./support/cross-child.mjs', import.meta.url));

interface ChildEvent {
  ev: 'ready' | 'start' | 'done' | 'aborted' | 'fail' | 'unsubscribed';
  id?: string;
  session?: string;
  sub?: number;
  to?: string | null;
  n?: number;
  reason?: string;
  i?: number;
}

interface Child {
  proc: ChildProcess;
  events: ChildEvent[];
  exited: Promise<void>;
  waitFor(match: (e: ChildEvent) => boolean, what: string, timeoutMs?: number): Promise<void>;
  send(line: string): void;
}

const children: Child[] = [];
const open: NatsMessageBus[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

async function startChild(streamPrefix: string, subscriptions: Array<{ eventType: string; options: SubscribeOptions }>): Promise<Child> {
  const options = { url: await sharedNatsUrl(), streamPrefix, leaseMs: 4_000 };
  const proc = spawn(process.execPath, [childScript, JSON.stringify({ options, subscriptions })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: ChildEvent[] = [];
  let buffer = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as ChildEvent);
  });
  let exitCode: number | string | null | undefined;
  const exited = new Promise<void>((resolve) => proc.once('close', (code, signal) => ((exitCode = code ?? signal), resolve())));
  const child: Child = {
    proc,
    events,
    exited,
    async waitFor(match, what, timeoutMs = 60_000) {
      await waitFor(
        () => {
          if (events.some(match)) return true;
          if (exitCode !== undefined) throw new Error(`the child exited (${exitCode}) before ${what}`);
          return false;
        },
        what,
        timeoutMs,
      );
    },
    send: (line) => void proc.stdin!.write(`${line}\n`),
  };
  children.push(child);
  await child.waitFor((e) => e.ev === 'ready', 'the child bus to be ready', 90_000);
  return child;
}

async function connect(streamPrefix: string): Promise<NatsMessageBus> {
  const bus = await NatsMessageBus.connect(namespaces.remember({ url: await sharedNatsUrl(), streamPrefix, leaseMs: 4_000 }));
  open.push(bus);
  return bus;
}

function envelope(init: Partial<EnvelopeInit> & { sessionId: string; eventType: string }) {
  return createEnvelope({ componentSource: 'cross', pattern: 'pub_sub', ...init });
}

const started = (events: ChildEvent[], sub: number) => events.filter((e) => e.ev === 'start' && e.sub === sub).map((e) => e.id);

describe('across OS processes', () => {
  it('deleteSessionQueue in one process aborts the running attempt and drops the queued messages of the session in another', async () => {
    const prefix = randomName('xdel');
    const bus = await connect(prefix);
    const folder = mkdtempSync(join(tmpdir(), 'ww-xdel-'));
    folders.push(folder);
    const release = join(folder, 'release');
    // Subscription 0: a component's group; 1: an observer. Both hold the session's messages.
    const child = await startChild(prefix, [
      { eventType: 'x.work', options: { componentId: randomName('xc') } },
      { eventType: 'x.work', options: { observe: true } },
    ]);
    const doomed = randomName('doomed');
    const first = envelope({ sessionId: doomed, eventType: 'x.work', payload: { blockUntil: release } });
    const queued = [1, 2, 3].map((n) => envelope({ sessionId: doomed, eventType: 'x.work', payload: { n } }));
    await bus.publish(first);
    for (const m of queued) await bus.publish(m);
    for (const sub of [0, 1]) await child.waitFor((e) => e.ev === 'start' && e.sub === sub && e.id === first.messageId, `the first message to run in subscription ${sub}`);

    await bus.deleteSessionQueue(doomed);
    // Were the queued messages still held there, they would run as soon as the first one ends.
    writeFileSync(release, '');
    for (const sub of [0, 1]) {
      await child.waitFor((e) => (e.ev === 'aborted' || e.ev === 'done') && e.sub === sub && e.id === first.messageId, `the first attempt to end in subscription ${sub}`);
    }
    const ends = child.events.filter((e) => (e.ev === 'aborted' || e.ev === 'done') && e.id === first.messageId);
    expect(ends.map((e) => [e.sub, e.ev, e.reason])).toEqual(expect.arrayContaining([[0, 'aborted', 'SessionDeletedError'], [1, 'aborted', 'SessionDeletedError']]));
    expect(ends).toHaveLength(2);

    // A later message of the session starts it afresh; one of another session runs too. Both come
    // after the deleted ones in their partition, so once they ran nothing deleted is still on its way.
    const later = envelope({ sessionId: doomed, eventType: 'x.work', payload: { n: 4 } });
    const other = envelope({ sessionId: randomName('kept'), eventType: 'x.work', payload: { n: 5 } });
    await bus.publish(later);
    await bus.publish(other);
    for (const sub of [0, 1]) {
      for (const m of [later, other]) await child.waitFor((e) => e.ev === 'done' && e.sub === sub && e.id === m.messageId, `message ${(m.payload as { n: number }).n} in subscription ${sub}`);
    }
    for (const sub of [0, 1]) {
      expect(started(child.events, sub).filter((id) => queued.some((m) => m.messageId === id))).toEqual([]);
    }
    // Nothing of the deleted session is left pending on the server either. The child reports a
    // message done before its (unawaited) ack reaches the server, so the last two may still be
    // pending for a moment on a busy machine: wait for the count to settle, never for long (what a
    // deletion left behind would stay pending until ack_wait, far beyond this).
    let groups = (await bus.healthCheck()).groups;
    for (const settleBy = Date.now() + 10_000; groups.some((g) => g.pending !== 0 || g.lag !== 0) && Date.now() < settleBy; ) {
      await new Promise((r) => setTimeout(r, 100));
      groups = (await bus.healthCheck()).groups;
    }
    for (const g of groups) expect({ group: g.group, pending: g.pending, lag: g.lag }).toEqual({ group: g.group, pending: 0, lag: 0 });
  }, 180_000);

  it('an observer in one process sees what another publishes, targeted messages included, and the target subscribing later in a third still gets its own', async () => {
    const prefix = randomName('xobs');
    const bus = await connect(prefix);
    const target = randomName('xt');
    const observer = await startChild(prefix, [{ eventType: '*', options: { observe: true } }]);
    const targeted = [0, 1, 2].map((n) => envelope({ sessionId: `s${n % 2}`, eventType: 'x.job', pattern: 'point_to_point', componentTarget: target, payload: { n } }));
    const broadcast = [3, 4].map((n) => envelope({ sessionId: `s${n % 2}`, eventType: 'x.news', payload: { n } }));
    for (const m of [...targeted, ...broadcast]) await bus.publish(m);
    const all = [...targeted, ...broadcast].map((m) => m.messageId);
    await observer.waitFor(() => all.every((id) => observer.events.some((e) => e.ev === 'done' && e.id === id)), 'the observer to see every message');

    // The target's group subscribes now, in another process: its targeted messages are waiting.
    const consumer = await startChild(prefix, [{ eventType: 'x.job', options: { componentId: target } }]);
    await consumer.waitFor(() => targeted.every((m) => consumer.events.some((e) => e.ev === 'done' && e.id === m.messageId)), 'the target to get its waiting messages');
    // Each once, in publish order per session; the observer saw each once too.
    for (const session of ['s0', 's1']) {
      const ids = targeted.filter((m) => m.sessionId === session).map((m) => m.messageId);
      expect(consumer.events.filter((e) => e.ev === 'start' && e.session === session).map((e) => e.id)).toEqual(ids);
    }
    expect(started(observer.events, 0).sort()).toEqual([...all].sort());
  }, 180_000);

  it('a dead letter of a group in one process, redriven from another, goes back to its own group only', async () => {
    const prefix = randomName('xdlq');
    const bus = await connect(prefix);
    const folder = mkdtempSync(join(tmpdir(), 'ww-xdlq-'));
    folders.push(folder);
    const fixed = join(folder, 'fixed');
    const failing = randomName('xfail');
    // Subscription 0 fails until the file exists; subscription 1 (another group) takes the same type.
    const child = await startChild(prefix, [
      { eventType: 'x.dl', options: { componentId: failing } },
      { eventType: 'x.dl', options: { componentId: randomName('xother') } },
    ]);
    const m = envelope({ sessionId: 'dl', eventType: 'x.dl', maxRetries: 0, payload: { failUntil: fixed, failSub: 0 } });
    await bus.publish(m);
    await waitFor(async () => (await bus.getDeadLetterMessages(10)).length === 1, 'the dead letter, seen from this process', 60_000);
    const [record] = await bus.getDeadLetterMessages(10);
    expect(record?.envelope.messageId).toBe(m.messageId);
    await child.waitFor((e) => e.ev === 'done' && e.sub === 1 && e.id === m.messageId, 'the other group to handle it once');
    writeFileSync(fixed, '');
    const result = await bus.redriveDeadLetters();
    expect(result.redriven).toEqual([record!.id]);
    await child.waitFor((e) => e.ev === 'done' && e.sub === 0 && e.id === m.messageId, 'the redriven message to succeed in its own group');
    // A later message of the session is the sentinel: the other group ran nothing more of m.
    const sentinel = envelope({ sessionId: 'dl', eventType: 'x.dl', payload: { n: 2 } });
    await bus.publish(sentinel);
    await child.waitFor((e) => e.ev === 'done' && e.sub === 1 && e.id === sentinel.messageId, 'the sentinel in the other group');
    expect(child.events.filter((e) => e.ev === 'start' && e.sub === 1 && e.id === m.messageId)).toHaveLength(1);
    expect(await bus.getDeadLetterMessages(10)).toEqual([]);
  }, 180_000);

  it('a durable: false group shared by two processes outlives the first one leaving and ends with the last', async () => {
    const prefix = randomName('xnd');
    const bus = await connect(prefix);
    const component = randomName('xnd');
    const options: SubscribeOptions = { componentId: component, durable: false };
    const a = await startChild(prefix, [{ eventType: 'x.tmp', options }]);
    const b = await startChild(prefix, [{ eventType: 'x.tmp', options }]);
    const groupSeen = async () => (await bus.healthCheck()).groups.some((g) => g.componentId === component);
    expect(await groupSeen()).toBe(true);
    const batch = (from: number) => Array.from({ length: 40 }, (_, i) => envelope({ sessionId: `s${i % 8}`, eventType: 'x.tmp', payload: { n: from + i } }));
    const runIds = (children: Child[]) => children.flatMap((c) => c.events.filter((e) => e.ev === 'done').map((e) => e.id));

    const before = batch(0);
    for (const m of before) await bus.publish(m);
    await waitFor(() => before.every((m) => runIds([a, b]).includes(m.messageId)), 'the first batch in the shared group', 60_000);

    // The first process leaves: the group stays for the second, which gets everything after.
    a.send('unsubscribe 0');
    await a.waitFor((e) => e.ev === 'unsubscribed', 'the first process to unsubscribe');
    expect(await groupSeen()).toBe(true);
    const after = batch(100);
    for (const m of after) await bus.publish(m);
    await waitFor(() => after.every((m) => runIds([b]).includes(m.messageId)), 'the second batch in the remaining process', 60_000);
    expect(started(a.events, 0).filter((id) => after.some((m) => m.messageId === id))).toEqual([]);

    // The last one leaves: the group is gone as this bus sees it, and keeps nothing for later.
    b.send('unsubscribe 0');
    await b.waitFor((e) => e.ev === 'unsubscribed', 'the second process to unsubscribe');
    await waitFor(async () => !(await groupSeen()), 'the group to be gone', 30_000);
    // Each message ran once.
    const ran = runIds([a, b]);
    expect(new Set(ran).size).toBe(ran.length);
  }, 180_000);
});
