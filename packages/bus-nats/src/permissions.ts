/**
 * The least a NATS user needs to run a bus on one `streamPrefix` `<p>`: the subjects it publishes
 * and subscribes to, and the JetStream API calls, each naming the prefix's own streams. Nothing
 * here reaches another prefix's streams, consumers, subjects or reply inboxes, so the lists fence
 * one tenant from another within one account (README "Permissions" and "Tenants").
 *
 * publish:
 *   `<p>.>`                                      messages, dead letters, group assignments, deletion log
 *   `$JS.API.INFO`                               the client's JetStream check
 *   `$JS.API.STREAM.{CREATE,INFO,PURGE,MSG.GET}.<stream>` for the three streams,
 *   `$JS.API.STREAM.MSG.DELETE.<p>~DLQ`          redrive / purge of dead letters
 *   `$JS.API.CONSUMER.CREATE.<p>~EVENTS.>`       groups (the create call of servers 2.9+)
 *   `$JS.API.CONSUMER.{INFO,DELETE,MSG.NEXT}.<p>~EVENTS.*`   group state, removal, pulls
 *   `$JS.API.CONSUMER.LIST.<p>~EVENTS`           groups in health and the CLI
 *   `$JS.ACK.<p>~EVENTS.>`                       ack, nak, working, term
 * subscribe:
 *   `<inboxPrefix>.>`                            replies (API answers, PubAcks, pulled messages);
 *                                                the bus's inbox prefix is `_INBOX.<p>` by default
 *   `<p>.state.g.>`                              group assignment writes
 *   `<p>.ctl.>`                                  deleted-session notices and their answers
 */
import { layoutFor } from './subjects.js';

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** The inbox prefix a bus on `prefix` uses unless `inboxPrefix` is set. */
export function defaultInboxPrefix(prefix: string): string {
  return `_INBOX.${prefix}`;
}

/** The minimal permissions of a bus on `prefix` (with its inbox prefix), as the server config's `publish` / `subscribe` lists. */
export function minimalPermissions(prefix: string, inboxPrefix = defaultInboxPrefix(prefix)): NatsPermissions {
  const layout = layoutFor(prefix);
  const streams = [layout.eventsStream, layout.dlqStream, layout.stateStream];
  const streamCalls = ['CREATE', 'INFO', 'PURGE', 'MSG.GET'].flatMap((call) => streams.map((stream) => `$JS.API.STREAM.${call}.${stream}`));
  const events = layout.eventsStream;
  return {
    publish: [
      `${prefix}.>`,
      '$JS.API.INFO',
      ...streamCalls,
      `$JS.API.STREAM.MSG.DELETE.${layout.dlqStream}`,
      `$JS.API.CONSUMER.CREATE.${events}.>`,
      `$JS.API.CONSUMER.INFO.${events}.*`,
      `$JS.API.CONSUMER.DELETE.${events}.*`,
      `$JS.API.CONSUMER.MSG.NEXT.${events}.*`,
      `$JS.API.CONSUMER.LIST.${events}`,
      `$JS.ACK.${events}.>`,
    ],
    subscribe: [`${inboxPrefix}.>`, `${prefix}.state.g.>`, `${prefix}.ctl.>`],
  };
}
