#!/usr/bin/env node
/**
 * The `woodwork-bus` bin: runs `runCli` on this process's arguments and streams. SIGINT / SIGTERM
 * end `tail` cleanly (unsubscribe, close the bus, exit 0); a second signal exits at once.
 */
import { runCli } from './run-cli.js';

const controller = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals++;
  if (signals > 1) process.exit(130);
  controller.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
process.exitCode = code;
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
// A backend that left a handle open must not keep a finished command alive; unref'd, this timer
// only fires if something else still holds the process.
setTimeout(() => process.exit(code), 2000).unref();
