/**
 * Publishes of one turn in one socket write. Each publish is its own command, sent as it is made
 * and answered by its own reply (never ioredis's auto-pipelining, which answers a command only when
 * its whole batch is answered: connection.ts); only the write to the socket waits: the first
 * publish of a turn corks the connection's socket and the end of the turn (`process.nextTick`,
 * after the promise chains running now) uncorks it, so the commands made meanwhile go out in one
 * `writev` instead of one write system call each.
 *
 * Measured on this 2-core machine (20,000 XADD of 1 KiB, 64 in flight, bare ioredis): 8-10 us of
 * client CPU per publish written one by one, 5.6-7 us corked per turn, and a third less time; the
 * server reads fewer, larger packets too. Standalone and Sentinel connections only: a Cluster
 * writes to one socket per node.
 *
 * Holding a write costs the commands made early in a turn the rest of the turn (a publish that
 * could be on the wire waits for the ones made after it): at a moderate rate that was most of what
 * the bus added to a publish's round trip (`npm run bench -- redis-tail --rate 8400`: publish ->
 * stored p50 0.50 ms holding every turn, 0.36 ms with the rule below; bare ioredis 0.21-0.27 ms). So `minUnanswered` lets a writer hold only when
 * the server is already behind: with that many commands of the connection unanswered, a new one
 * is answered after them anyway, and the turn's writes are coalesced; with fewer, it goes now.
 */
import { Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

interface Corkable {
  cork(): void;
  uncork(): void;
}

export class WriteCoalescer {
  private corked = false;

  /** `minUnanswered`: hold only while at least that many commands of the connection are unanswered. */
  constructor(
    private readonly client: RedisClient,
    private readonly minUnanswered = 0,
  ) {}

  /** Holds this turn's writes on the connection's socket until the turn ends. */
  hold(): void {
    if (this.corked || !(this.client instanceof Redis) || this.client.commandQueue.length < this.minUnanswered) return;
    const stream = (this.client as { stream?: Partial<Corkable> }).stream;
    if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return;
    const socket = stream as Corkable;
    socket.cork();
    this.corked = true;
    // The socket corked, not whichever the client holds by then (a reconnect makes a new one).
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}
