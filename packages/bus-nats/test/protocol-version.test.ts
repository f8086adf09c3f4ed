/**
 * A prefix written by another protocol version is refused before anything is published or
 * consumed (src/streams.ts): version 1 (an events stream without a description, subjects without
 * a partition token) while it holds messages, and any later version; an empty stream without a
 * description is taken over. On the shared NATS, streams of this test's own prefixes, removed after.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '@woodwork/bus-core';
import { randomName } from '@woodwork/bus-conformance';
import { NatsMessageBus, layoutFor } from '../src/index.js';
import { DEFAULT_PARTITIONS } from '../src/subjects.js';
import { sharedNatsUrl } from './support/nats-server.js';

let url: string;
let nc: NatsConnection;
let jsm: JetStreamManager;
const prefixes: string[] = [];

beforeAll(async () => {
  url = await sharedNatsUrl();
  nc = await connect({ servers: url });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  for (const prefix of prefixes) {
    for (const stream of ['EVENTS', 'DLQ', 'STATE']) await jsm.streams.delete(`${prefix}~${stream}`).catch(() => undefined);
  }
  await nc.close();
});

/** An events stream as another build made it. */
async function eventsStream(description: string | undefined, messages: string[]): Promise<string> {
  const prefix = randomName('pv');
  prefixes.push(prefix);
  const layout = layoutFor(prefix);
  await jsm.streams.add({ name: layout.eventsStream, subjects: [layout.eventsSubjects], ...(description === undefined ? {} : { description }) });
  for (const subject of messages) await jetstream(nc).publish(`${prefix}.${subject}`, '{}');
  return prefix;
}

async function connectError(streamPrefix: string): Promise<unknown> {
  return NatsMessageBus.connect({ url, streamPrefix }).then(
    async (bus) => {
      await bus.close();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('protocol version of a prefix', () => {
  it('refuses a version 1 prefix that holds messages, naming streamPrefix and how to migrate', async () => {
    const prefix = await eventsStream(undefined, ['m.s1.~.agent.step']);
    const error = await connectError(prefix);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).key).toBe('streamPrefix');
    expect((error as Error).message).toContain('protocol version 1');
    expect((error as Error).message).toContain('new streamPrefix');
  });

  it('refuses a prefix of a later protocol version', async () => {
    const prefix = await eventsStream(JSON.stringify({ woodwork: 3, partitions: 16 }), []);
    const error = await connectError(prefix);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toContain('version 3');
  });

  it('takes over an empty events stream without a description', async () => {
    const prefix = await eventsStream(undefined, []);
    const bus = await NatsMessageBus.connect({ url, streamPrefix: prefix });
    try {
      expect((await bus.healthCheck()).details['partitions']).toBe(DEFAULT_PARTITIONS);
    } finally {
      await bus.close();
    }
  });
});
