/**
 * The prefixes a test file made buses with on the shared NATS, and their removal after the file:
 * tests leave no streams behind on the shared server. Bulk form of `NatsMessageBus.deleteNamespace`
 * for prefixes whose buses are closed already (one listing, no bus per prefix).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { STREAM_PREFIX_PATTERN } from '@woodwork/bus-core';
import { layoutFor } from '../../src/index.js';

export class SharedNamespaces {
  private readonly prefixes = new Set<string>();

  constructor(private readonly url: () => Promise<string> | string) {}

  /** Remembers the prefix of bus options (or a prefix) made on the shared server; returns it. */
  remember<T extends { streamPrefix?: unknown }>(options: T): T {
    // A prefix the bus refuses (the bad-input tests) made nothing.
    if (typeof options.streamPrefix === 'string' && STREAM_PREFIX_PATTERN.test(options.streamPrefix)) this.prefixes.add(options.streamPrefix);
    return options;
  }

  /** Deletes every stream of the remembered prefixes that exists (call after their buses closed). */
  async deleteAll(): Promise<number> {
    if (this.prefixes.size === 0) return 0;
    const nc = await connect({ servers: await this.url() });
    try {
      const jsm = await jetstreamManager(nc);
      const wanted = new Set<string>();
      for (const prefix of this.prefixes) {
        const layout = layoutFor(prefix);
        wanted.add(layout.eventsStream).add(layout.dlqStream).add(layout.stateStream);
      }
      const present: string[] = [];
      for await (const name of jsm.streams.names()) if (wanted.has(name)) present.push(name);
      for (const name of present) await jsm.streams.delete(name);
      this.prefixes.clear();
      return present.length;
    } finally {
      await nc.close();
    }
  }
}
