/**
 * What the NATS backend adds to the contract, on the shared NATS: the Nats-Msg-Id rules, a long
 * handler kept alive with working(), undecodable messages dead-lettered at once, a consumer deleted
 * from outside recreated after the last acknowledged message, and fail-fast publishing while the
 * (own) server is away.
 */
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, QueueFullError, createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus, consumerName, layoutFor, messageSubject, partitionConsumerName, partitionOf, type NatsBusOptions } from '../src/index.js';
import { SharedNamespaces } from './support/namespaces.js';
import { OwnNatsServer, sharedNatsUrl } from './support/nats-server.js';

const open: NatsMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

async function makeBus(options: NatsBusOptions = {}): Promise<NatsMessageBus> {
  const bus = await NatsMessageBus.connect(namespaces.remember({ url: await sharedNatsUrl(), streamPrefix: randomName('nb'), retry: { initialDelayMs: 5, maxDelayMs: 20, multiplier: 2, jitter: 0 }, ...options }));
  open.push(bus);
  return bus;
}

const msg = (init: Partial<MessageEnvelope> & { sessionId: string; eventType: string }) =>
  createEnvelope({ componentSource: 'test', pattern: 'pub_sub', ...init });

async function storedCount(bus: NatsMessageBus): Promise<number> {
  const nc = await connect({ servers: bus.options.url });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(layoutFor(bus.options.streamPrefix).eventsStream)).state.messages;
  } finally {
    await nc.close();
  }
}

describe('NATS specifics', () => {
  it('exactly_once is deduplicated by messageId; other modes never are', async () => {
    const bus = await makeBus();
    const once = msg({ sessionId: 's', eventType: 'dedupe.x', deliveryMode: 'exactly_once' });
    expect((await bus.publish(once)).duplicate).toBe(false);
    expect((await bus.publish(once)).duplicate).toBe(true);
    const twice = msg({ sessionId: 's', eventType: 'dedupe.x' });
    expect((await bus.publish(twice)).duplicate).toBe(false);
    expect((await bus.publish(twice)).duplicate).toBe(false);
    expect(await storedCount(bus)).toBe(3);
  });

  it('a handler running over three times ack_wait runs exactly once, its session waiting', async () => {
    const bus = await makeBus({ ackWaitMs: 400 });
    const starts: string[] = [];
    await bus.subscribe(
      'long.work',
      async (e) => {
        starts.push(e.messageId);
        if ((e.payload as { long?: boolean }).long) await new Promise((r) => setTimeout(r, 1_500));
      },
      { componentId: randomName('long') },
    );
    const long = msg({ sessionId: 'l', eventType: 'long.work', payload: { long: true } });
    const next = msg({ sessionId: 'l', eventType: 'long.work' });
    await bus.publish(long);
    await bus.publish(next);
    await waitFor(() => starts.includes(next.messageId), 'the message behind the long one', 20_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(starts).toEqual([long.messageId, next.messageId]);
    // Nothing on the server overrides ack_wait: no backoff list on any of the group's consumers.
    const nc = await connect({ servers: bus.options.url });
    try {
      const jsm = await jetstreamManager(nc);
      const layout = layoutFor(bus.options.streamPrefix);
      let consumers = 0;
      for await (const info of jsm.consumers.list(layout.eventsStream)) {
        consumers++;
        expect(info.config.backoff, info.name).toBeUndefined();
        expect(info.config.ack_wait, info.name).toBe(400 * 1_000_000);
      }
      expect(consumers).toBe(bus.options.partitions);
    } finally {
      await nc.close();
    }
  });

  it('an undecodable message is dead-lettered at once with its raw text, and its session goes on', async () => {
    const bus = await makeBus();
    const got: string[] = [];
    const group = randomName('strict');
    await bus.subscribe('raw.x', (e) => void got.push(e.messageId), { group });
    const nc = await connect({ servers: bus.options.url });
    const { jetstream } = await import('@nats-io/jetstream');
    const subject = messageSubject(layoutFor(bus.options.streamPrefix), 'poison', null, 'raw.x');
    await jetstream(nc).publish(subject, '{not json');
    // JSON, but not a valid envelope (core's wire validation refuses it): the same, at once.
    const invalid = JSON.stringify({ message_id: 'm-invalid', session_id: 'poison', event_type: 'raw.x', retry_count: -1 });
    await jetstream(nc).publish(subject, invalid);
    await nc.close();
    const after = msg({ sessionId: 'poison', eventType: 'raw.x' });
    await bus.publish(after);
    await waitFor(() => got.length === 1, 'the next message of the session');
    expect(got).toEqual([after.messageId]);
    await waitFor(async () => (await bus.getDeadLetterMessages()).length === 2, 'both dead letters');
    const records = await bus.getDeadLetterMessages();
    expect(records.map((r) => r.envelope.metadata['undecodable_body']).sort()).toEqual(['{not json', invalid].sort());
    for (const record of records) {
      expect(record.attempts).toBe(0);
      expect(record.group).toBe(group);
      expect(record.envelope.sessionId).toBe('poison');
      expect(record.error.code).toBe('INVALID_MESSAGE');
    }
  });

  it('a consumer deleted from outside is recreated after the last acknowledged message', async () => {
    const bus = await makeBus();
    const component = randomName('gone');
    const got: string[] = [];
    await bus.subscribe('gone.x', (e) => void got.push(e.messageId), { group: component });
    const first = [0, 1, 2].map((i) => msg({ sessionId: 's', eventType: 'gone.x', payload: { i } }));
    for (const m of first) await bus.publish(m);
    await waitFor(() => got.length === 3, 'the first three');
    const nc = await connect({ servers: bus.options.url });
    const layout = layoutFor(bus.options.streamPrefix, bus.options.partitions);
    const jsm = await jetstreamManager(nc);
    // The partition consumer session "s" goes through (one of the group's partitions).
    const name = partitionConsumerName(consumerName(layout, component), partitionOf('s', layout.partitions));
    await waitFor(async () => (await jsm.consumers.info(layout.eventsStream, name)).num_ack_pending === 0, 'acks');
    await jsm.consumers.delete(layout.eventsStream, name);
    const later = msg({ sessionId: 's', eventType: 'gone.x', payload: { i: 3 } });
    await bus.publish(later);
    await waitFor(() => got.length >= 4, 'the message after the deletion', 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([...first, later].map((m) => m.messageId));
    expect((await jsm.consumers.info(layout.eventsStream, name)).name).toBe(name);
    await nc.close();
  });

  it('an events stream deleted from outside is recreated by the next publish, and the group goes on with what is published after', async () => {
    const bus = await makeBus();
    const got: string[] = [];
    await bus.subscribe('wiped.x', (e) => void got.push(e.messageId), { componentId: randomName('w') });
    const before = [0, 1].map((i) => msg({ sessionId: 's', eventType: 'wiped.x', payload: { i } }));
    for (const m of before) await bus.publish(m);
    await waitFor(() => got.length === 2, 'the first two');
    const nc = await connect({ servers: bus.options.url });
    try {
      const jsm = await jetstreamManager(nc);
      const layout = layoutFor(bus.options.streamPrefix);
      await jsm.streams.delete(layout.eventsStream);
      const after = [2, 3].map((i) => msg({ sessionId: 's', eventType: 'wiped.x', payload: { i } }));
      for (const m of after) expect((await bus.publish(m)).duplicate).toBe(false);
      expect((await jsm.streams.info(layout.eventsStream)).state.messages).toBe(2);
      await waitFor(() => got.length >= 4, 'the messages published after the deletion', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual([...before, ...after].map((m) => m.messageId));
    } finally {
      await nc.close();
    }
  });

  it('a message still held when its stream is deleted does not swallow the new stream\'s message with the same sequence', async () => {
    const bus = await makeBus();
    const component = randomName('held');
    const got: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    await bus.subscribe(
      'held.x',
      async (e) => {
        got.push(e.messageId);
        if ((e.payload as { wait?: boolean }).wait) await gate;
      },
      { group: component },
    );
    const old = msg({ sessionId: 's', eventType: 'held.x', payload: { wait: true } });
    await bus.publish(old);
    await waitFor(() => got.length === 1, 'the first message running');
    const nc = await connect({ servers: bus.options.url });
    try {
      const jsm = await jetstreamManager(nc);
      const layout = layoutFor(bus.options.streamPrefix, bus.options.partitions);
      await jsm.streams.delete(layout.eventsStream);
      // Stored as sequence 1 of the new stream, like the held one was of the old.
      const fresh = msg({ sessionId: 's', eventType: 'held.x' });
      await bus.publish(fresh);
      const name = partitionConsumerName(consumerName(layout, component), partitionOf('s', layout.partitions));
      // The recreated consumer has handed it to this process (it waits behind the held one).
      await waitFor(async () => ((await jsm.consumers.info(layout.eventsStream, name).catch(() => undefined))?.num_ack_pending ?? 0) === 1, 'the new message delivered', 30_000);
      release();
      await waitFor(() => got.length >= 2, 'the new message run', 30_000);
      expect(got).toEqual([old.messageId, fresh.messageId]);
    } finally {
      release();
      await nc.close();
    }
  });

  it('deleteNamespace closes the bus and deletes its prefix\'s three streams; a second call is a closed-bus error', async () => {
    const bus = await makeBus();
    await bus.subscribe('ns.x', () => undefined, { componentId: randomName('ns') });
    await bus.publish(msg({ sessionId: 's', eventType: 'ns.x' }));
    const layout = layoutFor(bus.options.streamPrefix);
    const streams = [layout.eventsStream, layout.dlqStream, layout.stateStream];
    const nc = await connect({ servers: bus.options.url });
    try {
      const jsm = await jetstreamManager(nc);
      const present = async (): Promise<string[]> => {
        const names: string[] = [];
        for await (const name of jsm.streams.names()) if (streams.includes(name)) names.push(name);
        return names.sort();
      };
      expect(await present()).toEqual([...streams].sort());
      expect((await bus.deleteNamespace()).sort()).toEqual([...streams].sort());
      expect(await present()).toEqual([]);
      await expect(bus.publish(msg({ sessionId: 's', eventType: 'ns.x' }))).rejects.toMatchObject({ code: 'BUS_CLOSED' });
      await expect(bus.deleteNamespace()).rejects.toMatchObject({ code: 'BUS_CLOSED' });
    } finally {
      await nc.close();
    }
  });

  it('close right after its server vanished still resolves (every server step of a close is bounded)', async () => {
    const server = await OwnNatsServer.start();
    try {
      const bus = await NatsMessageBus.connect({ url: server.url, streamPrefix: randomName('vanish') });
      await bus.subscribe('vanish.x', () => undefined, { componentId: randomName('v') });
      await bus.publish(msg({ sessionId: 's', eventType: 'vanish.x' }));
      await server.stopProcess('SIGKILL');
      // Before the client has noticed: a hang guard, not a timing claim (the test timeout is the bound).
      await bus.close();
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('while its server is away, publish fails fast with BackendUnavailableError and health is degraded', async () => {
    const server = await OwnNatsServer.start();
    try {
      const bus = await NatsMessageBus.connect({ url: server.url, streamPrefix: randomName('away'), publishTimeoutMs: 500 });
      open.push(bus);
      await bus.publish(msg({ sessionId: 's', eventType: 'away.x' }));
      await server.stopProcess('SIGKILL');
      await waitFor(async () => (await bus.healthCheck()).status === 'degraded', 'degraded health');
      await expect(bus.publish(msg({ sessionId: 's', eventType: 'away.x' }))).rejects.toBeInstanceOf(BackendUnavailableError);
      await server.startProcess();
      await waitFor(async () => (await bus.healthCheck()).status === 'healthy', 'healthy again', 20_000);
      await expect(bus.publish(msg({ sessionId: 's', eventType: 'away.x' }))).resolves.toMatchObject({ duplicate: false });
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('with publishBufferSize, publishes wait in order while the server is away, past the bound QueueFullError, then all are stored and delivered in order', async () => {
    const server = await OwnNatsServer.start();
    try {
      const bus = await NatsMessageBus.connect({ url: server.url, streamPrefix: randomName('buf'), publishBufferSize: 3, publishTimeoutMs: 45_000 });
      open.push(bus);
      const got: string[] = [];
      await bus.subscribe('buf.x', (e) => void got.push(e.messageId), { componentId: randomName('b') });
      // No message is consumed before the outage: a restarted 2.9 server can hand out again one
      // acknowledged just before it stopped (even on SIGTERM; the fault ledger counts those), and
      // this test is about the buffer, so every delivery below is of a buffered publish.
      await server.stopProcess('SIGKILL');
      await waitFor(async () => (await bus.healthCheck()).status === 'degraded', 'degraded health');
      const waiting = [1, 2, 3].map((i) => msg({ sessionId: 's', eventType: 'buf.x', payload: { i } }));
      const results = waiting.map((m) => bus.publish(m));
      await expect(bus.publish(msg({ sessionId: 's', eventType: 'buf.x', payload: { i: 4 } }))).rejects.toBeInstanceOf(QueueFullError);
      expect((await bus.healthCheck()).details['publishBuffered']).toBe(3);
      await server.startProcess();
      for (const r of results) await expect(r).resolves.toMatchObject({ duplicate: false });
      await waitFor(() => got.length >= 3, 'the buffered messages delivered', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(waiting.map((m) => m.messageId));
      expect((await bus.healthCheck()).details['publishBuffered']).toBe(0);
    } finally {
      await server.stop();
    }
  }, 90_000);
});
