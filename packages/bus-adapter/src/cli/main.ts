#!/usr/bin/env node
/**
 * The `woodwork-bus` bin: runs `runCli` on this process's arguments and streams. SIGINT / SIGTERM
 * end `tail` cleanly (unsubscribe, close the bus, exit 0); a second signal exits at once. A reader
 * that closes our stdout (`woodwork-bus tail ... | head -3`) ends the command the same way, instead
 * of an unhandled EPIPE with a stack trace.
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

let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  stdoutClosed = true;
  if (error.code !== 'EPIPE') {
    process.stderr.write(`woodwork-bus: cannot write output: ${error.message}\n`);
    process.exitCode = 1;
  }
  controller.abort(error);
});
// Writes after the reader went away are dropped: nobody can see them.
const stdout = { write: (text: string): boolean => (stdoutClosed ? false : process.stdout.write(text)) };

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
if (!process.exitCode) process.exitCode = code;
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
// A backend that left a handle open must not keep a finished command alive; unref'd, this timer
// only fires if something else still holds the process.
setTimeout(() => process.exit(), 2000).unref();
