/**
 * The named mutations of the mutation check (tools/mutations/check.mjs): small, deliberate bugs in
 * bus-memory and in core's lanes / consumer-group engine, each one a behaviour the contract forbids. Each is
 * a list of edits (file, the exact text to find, what to put instead); the check refuses to run
 * when a find-text no longer occurs exactly once, so an entry made stale by a refactor fails loudly
 * instead of silently "surviving" as a no-op.
 *
 * `missed` marks the eleven behaviours the suite used to miss (issue 8): each has at least one entry.
 */
const MEMORY_BUS = 'packages/bus-memory/src/memory-bus.ts';
const MEMORY_GROUP = 'packages/bus-memory/src/memory-group.ts';
const ROUTE_INDEX = 'packages/bus-memory/src/route-index.ts';
const DEAD_LETTER_STORE = 'packages/bus-memory/src/dead-letter-store.ts';
const LANES = 'packages/bus-core/src/session-lanes.ts';
const LANE_SETTLING = 'packages/bus-core/src/lane-settling.ts';
const LANE_CONSUMERS = 'packages/bus-core/src/lane-consumers.ts';
const CONSUMER_GROUP = 'packages/bus-core/src/consumer-group.ts';
const SUBSCRIPTION = 'packages/bus-core/src/subscription.ts';

/** @type {Array<{ name: string, missed?: string, edits: Array<{ file: string, find: string, replace: string }> }>} */
export const MUTATIONS = [
  // --- the eleven behaviours the suite missed ---------------------------------------------------
  {
    name: 'redrive-keeps-attempt-count',
    missed: 'a redrive without a fresh attempt count',
    edits: [
      { file: MEMORY_GROUP, find: 'enqueue(envelope: MessageEnvelope, body: MessageBody, seq: number, publication: Publication): boolean {', replace: 'enqueue(envelope: MessageEnvelope, body: MessageBody, seq: number, publication: Publication, attemptsMade = 0): boolean {' },
      { file: MEMORY_GROUP, find: 'const delivery: MemoryDelivery = { group: this, envelope, body, seq, attemptsMade: 0, publication, held: true };', replace: 'const delivery: MemoryDelivery = { group: this, envelope, body, seq, attemptsMade, publication, held: true };' },
      { file: MEMORY_BUS, find: 'if (!group.enqueue(envelope, bodyOf(envelope), ++this.seq, newPublication(envelope.sessionId))) {', replace: 'if (!group.enqueue(envelope, bodyOf(envelope), ++this.seq, newPublication(envelope.sessionId), record.attempts - 1)) {' },
    ],
  },
  {
    name: 'close-ignores-close-timeout',
    missed: '`close` ignoring `closeTimeoutMs` (8 s instead of 200 ms)',
    edits: [{ file: MEMORY_BUS, find: 'g.stop(this.options.closeTimeoutMs)', replace: 'g.stop(8_000)' }],
  },
  {
    name: 'private-group-outlives-unsubscribe',
    missed: 'a private group that keeps delivering and retrying after unsubscribe',
    edits: [{ file: MEMORY_BUS, find: '    group.removeReplica(subscriptionId);\n', replace: '    if (group.spec.durable) group.removeReplica(subscriptionId);\n' }],
  },
  {
    name: 'delete-session-spares-retrying-groups',
    missed: '`deleteSessionQueue` sparing a session whose retry is waiting',
    edits: [
      {
        file: MEMORY_GROUP,
        find: '    for (const delivery of this.lanes.abortSession(sessionId)) this.release(delivery);\n',
        replace: '    if (this.lanes.stats.retrying === 0) for (const delivery of this.lanes.abortSession(sessionId)) this.release(delivery);\n',
      },
    ],
  },
  {
    name: 'health-pending-lag-bus-wide',
    missed: 'pending/lag reported bus-wide instead of per group',
    edits: [
      {
        file: MEMORY_BUS,
        find: 'groups: groups.map((g) => g.health()),',
        replace:
          'groups: groups.map((g) => ({ ...g.health(), pending: groups.reduce((n, x) => n + x.health().pending, 0), lag: groups.reduce((n, x) => n + x.health().lag, 0) })),',
      },
    ],
  },
  {
    name: 'four-times-concurrency',
    missed: 'four times the allowed concurrency',
    edits: [{ file: LANE_CONSUMERS, find: 'if (slot.running < slot.consumer.concurrency) {', replace: 'if (slot.running < slot.consumer.concurrency * 4) {' }],
  },
  {
    name: 'untargeted-stream-dropped',
    missed: 'untargeted `stream` messages dropped',
    edits: [{ file: SUBSCRIPTION, find: '  return !spec.targetedOnly;\n}', replace: "  return !spec.targetedOnly && envelope.pattern !== 'stream';\n}" }],
  },
  {
    name: 'dead-letter-default-limit-ignored',
    missed: 'the default dead-letter limit ignored',
    edits: [{ file: MEMORY_BUS, find: 'async getDeadLetterMessages(limit = 100,', replace: 'async getDeadLetterMessages(limit = Number.MAX_SAFE_INTEGER,' }],
  },
  {
    name: 'dead-letter-retry-count-zero',
    missed: "the dead letter's `retryCount` always 0",
    edits: [{ file: CONSUMER_GROUP, find: 'const retryCount = Math.max(0, failure.attempts - 1);', replace: 'const retryCount = 0;' }],
  },
  {
    name: 'unsubscribe-one-replica-stalls-group',
    missed: 'unsubscribing one replica stalling its group',
    edits: [
      {
        file: CONSUMER_GROUP,
        find: '    this.lanes.detach(subscriptionId);\n',
        replace: '    for (const r of [...this.replicaList, { subscriptionId }]) this.lanes.detach(r.subscriptionId);\n',
      },
    ],
  },
  {
    name: 'dead-letter-filters-ignored',
    missed: 'dead-letter filters ignored',
    edits: [{ file: DEAD_LETTER_STORE, find: 'if (!matchesDeadLetterFilter(record, filter)) continue;', replace: 'if (filter?.ids && !matchesDeadLetterFilter(record, filter)) continue;' }],
  },

  // --- memory: publish, dedupe, routing, groups ---------------------------------------------------
  {
    name: 'exactly-once-never-deduplicated',
    edits: [
      {
        file: MEMORY_BUS,
        find: 'if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.publishedIds.has(envelope.messageId)) {\n      return { messageId: envelope.messageId, duplicate: true };\n    }\n    const queues',
        replace: 'if (false) {\n      return { messageId: envelope.messageId, duplicate: true };\n    }\n    const queues',
      },
    ],
  },
  {
    name: 'every-mode-deduplicated',
    edits: [
      { file: MEMORY_BUS, find: 'if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) this.publishedIds.remember(envelope.messageId);', replace: 'this.publishedIds.remember(envelope.messageId);' },
      {
        file: MEMORY_BUS,
        find: 'if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.publishedIds.has(envelope.messageId)) {\n      return { messageId: envelope.messageId, duplicate: true };\n    }\n    const queues',
        replace: 'if (this.publishedIds.has(envelope.messageId)) {\n      return { messageId: envelope.messageId, duplicate: true };\n    }\n    const queues',
      },
    ],
  },
  {
    name: 'redrive-leaves-the-record',
    edits: [{ file: MEMORY_BUS, find: '      this.deadLetters.remove(record.id);\n      result.redriven.push(record.id);', replace: '      result.redriven.push(record.id);' }],
  },
  {
    name: 'purge-ignores-its-filter',
    edits: [{ file: MEMORY_BUS, find: 'const purged = this.deadLetters.removeMatching(filter);', replace: 'const purged = this.deadLetters.removeMatching(undefined);' }],
  },
  {
    name: 'observer-stands-in-for-the-target',
    edits: [{ file: MEMORY_BUS, find: 'if (isTargeted(envelope) && !groups.some((g) => !(g as MemoryGroup).spec.observer)) {', replace: 'if (isTargeted(envelope) && groups.length === 0) {' }],
  },
  {
    name: 'late-target-loses-waiting-messages',
    edits: [{ file: MEMORY_BUS, find: 'for (const waiting of this.inbox.takeFor(group.spec)) group.enqueue(waiting.envelope, waiting.body, waiting.seq, newPublication(waiting.envelope.sessionId));', replace: 'this.inbox.takeFor(group.spec);' }],
  },
  {
    name: 'handler-runs-before-subscribe-resolves',
    edits: [{ file: CONSUMER_GROUP, find: '    if (this.lanes.size === 0) {\n      this.attach(subscription);', replace: '    if (true) {\n      this.attach(subscription);\n      this.lanes.pump();' }],
  },
  {
    name: 'dead-lettered-twice',
    edits: [
      {
        file: CONSUMER_GROUP,
        find: '    return hooks.storeDeadLetter(record, delivery, failure);',
        replace: '    if (failure.attempts > 1) void hooks.storeDeadLetter(record, delivery, failure);\n    return hooks.storeDeadLetter(record, delivery, failure);',
      },
    ],
  },
  {
    name: 'dead-letters-newest-first',
    edits: [{ file: DEAD_LETTER_STORE, find: 'for (const record of this.records.values()) {', replace: 'for (const record of [...this.records.values()].reverse()) {' }],
  },
  {
    name: 'dead-letter-bound-drops-the-newest',
    edits: [{ file: DEAD_LETTER_STORE, find: 'this.remove(this.records.keys().next().value as string);', replace: 'this.remove(stored.id);' }],
  },
  {
    name: 'attempts-share-one-envelope',
    edits: [{ file: MEMORY_GROUP, find: 'envelopeFor: (delivery, attempt) => freshEnvelope(delivery.envelope, delivery.body, attempt - 1),', replace: 'envelopeFor: (delivery, attempt) => Object.assign(delivery.envelope, { retryCount: attempt - 1 }),' }],
  },
  {
    name: 'unsubscribe-unknown-id-true',
    edits: [{ file: MEMORY_BUS, find: '    if (!group) return false;\n    this.subscriptions.delete(subscriptionId);', replace: '    if (!group) return true;\n    this.subscriptions.delete(subscriptionId);' }],
  },
  {
    name: 'idle-durable-groups-never-expire',
    edits: [{ file: MEMORY_BUS, find: 'if (!group.spec.durable || group.consumers > 0 || group.lastActiveAt > cutoff) continue;', replace: 'continue;' }],
  },
  {
    name: 'durable-group-removed-with-last-replica',
    edits: [{ file: MEMORY_BUS, find: 'if (group.consumers === 0 && (!group.spec.durable || group.sessionDeleted)) await this.removeGroup(group);', replace: 'if (group.consumers === 0) await this.removeGroup(group);' }],
  },
  {
    name: 'pending-leaves-out-retries',
    edits: [{ file: CONSUMER_GROUP, find: 'pending = stats.running + stats.retrying + stats.settling;', replace: 'pending = stats.running + stats.settling;' }],
  },

  // --- core: the lanes and the group rules --------------------------------------------------------
  {
    name: 'at-most-once-retried',
    edits: [{ file: LANE_SETTLING, find: 'delivery.envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : delivery.envelope.maxRetries + 1', replace: 'delivery.envelope.maxRetries + 1' }],
  },
  {
    name: 'one-attempt-too-many',
    edits: [{ file: LANE_SETTLING, find: 'MessageDeliveryMode.AT_MOST_ONCE ? 1 : delivery.envelope.maxRetries + 1', replace: 'MessageDeliveryMode.AT_MOST_ONCE ? 1 : delivery.envelope.maxRetries + 2' }],
  },
  {
    name: 'retry-without-backoff',
    edits: [{ file: LANES, find: "this.wait(lane, 'retrying', this.hooks.retryDelayMs(attempt), () => this.makeReady(lane));", replace: "this.wait(lane, 'retrying', 0, () => this.makeReady(lane));" }],
  },
  {
    name: 'handler-timeout-never-fires',
    edits: [{ file: LANES, find: 'if (consumer.handlerTimeoutMs > 0) this.deadlines.watch(running);', replace: '' }],
  },
  {
    name: 'close-does-not-abort-signals',
    edits: [{ file: LANES, find: "if (abort) lane.attempt?.context.abort(new BusClosedError('delivery'));", replace: '' }],
  },
  {
    name: 'deleted-session-attempt-not-aborted',
    edits: [{ file: LANES, find: 'lane.attempt?.context.abort(new SessionDeletedError(sessionId));', replace: '' }],
  },
  {
    name: 'session-runs-two-at-once',
    // A message pushed while its session's head runs gets a lane of its own: it runs beside it.
    edits: [{ file: LANES, find: '    let lane = this.lanes.get(key);\n    if (!lane) {', replace: "    let lane = this.lanes.get(key);\n    if (lane && lane.phase === 'running') lane = undefined;\n    if (!lane) {" }],
  },
  {
    name: 'session-bound-group-sees-every-session',
    edits: [
      { file: SUBSCRIPTION, find: '  if (spec.sessionId !== null && spec.sessionId !== envelope.sessionId) return false;\n', replace: '' },
      // bus-memory routes through its index first: a bound group filed with the shared ones.
      { file: ROUTE_INDEX, find: '    if (sessionId !== null) this.addToSession(entry, sessionId, group);\n    else this.addToCell(entry.shared, group);', replace: '    this.addToCell(entry.shared, group);' },
      { file: ROUTE_INDEX, find: '      const own = sessionId === null ? entry.shared : entry.bySession.get(sessionId);', replace: '      const own = entry.shared;' },
    ],
  },
  {
    name: 'targeted-only-gets-broadcasts',
    edits: [
      { file: SUBSCRIPTION, find: '  return !spec.targetedOnly;\n}', replace: '  return true;\n}' },
      { file: ROUTE_INDEX, find: '      if (!spec.targetedOnly) (cell.broadcast ??= new Set()).add(group);', replace: '      (cell.broadcast ??= new Set()).add(group);' },
    ],
  },
];
