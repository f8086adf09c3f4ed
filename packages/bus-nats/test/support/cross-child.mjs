// A bus in a child process for test/cross-process.test.ts. argv[2] is JSON:
// {"options": {...bus options}, "subscriptions": [{"eventType", "options"}]}.
// It prints one JSON line per event: {"ev":"ready","subs":[ids]}, and per attempt
// {"ev":"start"|"done"|"aborted"|"fail", "id", "session", "sub", "to", "n", "reason"}.
// A payload {"blockUntil": <path>} makes the handler wait until that file exists or its signal
// aborts (then "aborted" with the abort reason's name); {"failUntil": <path>} fails ("fail") while
// that file does not exist (only in subscription `failSub` when given). stdin lines: "close" closes the bus and
// exits 0; "unsubscribe <i>" unsubscribes the i-th subscription and prints {"ev":"unsubscribed","i"}.
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { NatsMessageBus } from '../../dist/index.js';

const config = JSON.parse(process.argv[2]);
const bus = await NatsMessageBus.connect(config.options);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const subs = [];
for (const [index, { eventType, options }] of config.subscriptions.entries()) {
  subs.push(
    await bus.subscribe(
      eventType,
      async (envelope, context) => {
        const base = { id: envelope.messageId, session: envelope.sessionId, sub: index, to: envelope.componentTarget, n: envelope.payload?.n };
        emit({ ev: 'start', ...base });
        const failing = envelope.payload?.failUntil;
        const failSub = envelope.payload?.failSub;
        if (failing && (failSub === undefined || failSub === index) && !existsSync(failing)) {
          emit({ ev: 'fail', ...base });
          throw new Error('fails until its file exists');
        }
        const path = envelope.payload?.blockUntil;
        if (path) {
          while (!existsSync(path) && !context.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 20));
          if (context.signal.aborted) {
            emit({ ev: 'aborted', ...base, reason: context.signal.reason?.name ?? String(context.signal.reason) });
            throw context.signal.reason;
          }
        }
        emit({ ev: 'done', ...base });
      },
      options,
    ),
  );
}
emit({ ev: 'ready', subs });

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, arg] = line.trim().split(' ');
  if (command === 'close') void bus.close().then(() => process.exit(0));
  if (command === 'unsubscribe') {
    const i = Number(arg);
    void bus.unsubscribe(subs[i]).then(() => emit({ ev: 'unsubscribed', i }));
  }
});
