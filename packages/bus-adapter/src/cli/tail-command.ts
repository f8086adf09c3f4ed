/**
 * `woodwork-bus tail --session S [--event E]`: prints one session's messages as they are published,
 * until the signal aborts (SIGINT / SIGTERM in the bin).
 *
 * It consumes nothing: it subscribes as an observer (`observe: true` on the bus contract), a private
 * group of its own that sees every message of the session, targeted ones included, while each
 * message still goes to its own groups (a target that has not subscribed yet still finds it
 * waiting). The group is removed on `unsubscribe`, so it leaves nothing behind. No history: it shows
 * what is published from now on.
 */
import { encodeEnvelope, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { isoTime, safeJson, safeText, shortJson, type TextSink } from './output.js';

export interface TailIo {
  out: TextSink;
  err: TextSink;
  json: boolean;
  signal: AbortSignal;
}

export async function runTail(bus: MessageBus, io: TailIo, sessionId: string, eventType: string | undefined): Promise<number> {
  if (io.signal.aborted) return 0;
  const subscriptionId = await bus.subscribe(eventType ?? '*', (envelope) => printEnvelope(io, envelope), { sessionId, observe: true });
  io.err.write(
    `woodwork-bus: tailing session ${sessionId}, ${eventType === undefined ? 'all events' : `event ${eventType}`}, on ${bus.backend}` +
      ' (an observer: consumes nothing); stop with Ctrl-C\n',
  );
  // A backend without sockets (memory) holds no handle: keep the process alive until told to stop.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(keepAlive);
  }
  await bus.unsubscribe(subscriptionId);
  io.err.write('woodwork-bus: tail stopped\n');
  return 0;
}

function printEnvelope(io: TailIo, envelope: MessageEnvelope): void {
  // Never throw: a failing handler would be retried and dead-lettered in the tail's group.
  try {
    if (io.json) {
      io.out.write(`${safeJson(encodeEnvelope(envelope))}\n`);
      return;
    }
    const route = `${envelope.componentSource} -> ${envelope.componentTarget ?? '*'}`;
    const cells = [isoTime(envelope.timestamp), envelope.eventType.padEnd(24), envelope.pattern.padEnd(14), route.padEnd(28), envelope.messageId];
    // Every field may come from another process: escaped, so a message cannot drive the terminal.
    io.out.write(`${safeText(cells.join('  '))}  ${shortJson(envelope.payload, 120)}\n`);
  } catch {
    // Output closed (a pipe reader went away): nothing useful left to do with this message.
  }
}
