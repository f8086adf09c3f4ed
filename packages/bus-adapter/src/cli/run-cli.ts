/**
 * `runCli`: the whole `woodwork-bus` command line as a function, so tests run it in-process with
 * any bus and the bin (`main.ts`) only adds the process: argv, streams, signals and the exit code.
 *
 * The bus comes from `--config <file.yml>` or, without it, from the same environment variables as
 * `MessageBusFactory.createFromEnvironment`. A bus the CLI creates, it closes; one handed over by
 * `createBus` stays the caller's.
 */
import { BusError, REDACTED, type MessageBus } from '@woodwork/bus-core';
import { safeText } from './output.js';
import { loadConfigFile, type Environment } from '../config.js';
import { MessageBusFactory, environmentSecrets, type ResolvedBusConfig } from '../factory.js';
import { busConfigSecrets } from '../bus-config.js';
import { USAGE, UsageError, parseCommandLine, type CliCommand } from './args.js';
import { runDlqList, runDlqPurge, runDlqRedrive, runDlqShow } from './dlq-command.js';
import { runHealth } from './health-command.js';
import type { TextSink } from './output.js';
import { runTail } from './tail-command.js';
import { runUi } from './ui-command.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  env: Environment;
  stdout: TextSink;
  stderr: TextSink;
  /** Makes the bus from the checked config (tests, embedding). The CLI does not close a bus it got here. */
  createBus?: (config: ResolvedBusConfig) => MessageBus | Promise<MessageBus>;
  /** Ends `tail`, and interrupts any other command. The bin aborts it on SIGINT / SIGTERM. */
  signal?: AbortSignal;
}

/** Runs one command line; resolves with the exit code (0 ok, 1 failure, 2 usage error). Never rejects. */
export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  // Everything printed, errors included, passes the known secrets' redaction: the environment's
  // from the start, the config's once it is loaded.
  const secrets = environmentSecrets(given.env);
  const io: CliIo = { ...given, stdout: redacting(given.stdout, secrets), stderr: redacting(given.stderr, secrets) };
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) {
      io.stderr.write(`woodwork-bus: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    io.stderr.write(`woodwork-bus: ${safeText(error.message)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (parsed.command.name === 'help') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  const signal = io.signal ?? new AbortController().signal;
  let bus: MessageBus | undefined;
  const owned = io.createBus === undefined;
  try {
    const config = parsed.configPath === undefined ? await MessageBusFactory.loadEnvironmentConfig(io.env) : await loadConfigFile(parsed.configPath, io.env);
    secrets.push(...busConfigSecrets(config));
    for (const warning of config.warnings) io.stderr.write(`woodwork-bus: warning: ${safeText(warning)}\n`);
    bus = io.createBus ? await io.createBus(config) : await MessageBusFactory.createMessageBus(config);
    // Only a memory bus the CLI made itself is a separate, empty one; a bus handed over is the app's.
    if (owned && bus.backend === 'memory') {
      io.stderr.write('woodwork-bus: note: the memory backend lives inside one process; this one sees only its own messages\n');
    }
    const command = parsed.command.name === 'ui' && parsed.command.token === undefined && io.env['WOODWORK_UI_TOKEN'] ? { ...parsed.command, token: io.env['WOODWORK_UI_TOKEN'] } : parsed.command;
    const run = runCommand(bus, command, { out: io.stdout, err: io.stderr, json: parsed.json, signal });
    return command.name === 'tail' || command.name === 'ui' ? await run : await unlessAborted(run, signal, io.stderr);
  } catch (error) {
    io.stderr.write(`woodwork-bus: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    if (bus && owned) {
      await bus.close().catch((error: unknown) => io.stderr.write(`woodwork-bus: closing the bus failed: ${describeError(error)}\n`));
    }
  }
}

interface CommandIo {
  out: TextSink;
  err: TextSink;
  json: boolean;
  signal: AbortSignal;
}

function runCommand(bus: MessageBus, command: Exclude<CliCommand, { name: 'help' }>, io: CommandIo): Promise<number> {
  switch (command.name) {
    case 'health':
      return runHealth(bus, io.out, io.json);
    case 'dlq-list': {
      const { limit, sessionId, group, eventType } = command;
      return runDlqList(bus, io, limit, {
        ...(sessionId === undefined ? {} : { sessionId }),
        ...(group === undefined ? {} : { group }),
        ...(eventType === undefined ? {} : { eventType }),
      });
    }
    case 'dlq-show':
      return runDlqShow(bus, io, command.id);
    case 'dlq-redrive':
      return runDlqRedrive(bus, io, command.selection);
    case 'dlq-purge':
      return runDlqPurge(bus, io, command.selection);
    case 'tail':
      return runTail(bus, io, command.sessionId, command.eventType);
    case 'ui': {
      const { port, host, token } = command;
      return runUi(bus, io, { ...(port === undefined ? {} : { port }), ...(host === undefined ? {} : { host }), ...(token === undefined ? {} : { token }) });
    }
  }
}

/** A command other than tail stops waiting when interrupted, and fails. */
function unlessAborted(run: Promise<number>, signal: AbortSignal, err: TextSink): Promise<number> {
  if (signal.aborted) return Promise.resolve(interrupted(err));
  return new Promise<number>((resolve, reject) => {
    const onAbort = (): void => resolve(interrupted(err));
    signal.addEventListener('abort', onAbort, { once: true });
    run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function interrupted(err: TextSink): number {
  err.write('woodwork-bus: interrupted\n');
  return EXIT_FAILURE;
}

/** One line for stderr: the error's text, escaped and with URL secrets replaced. Never throws. */
function describeError(error: unknown): string {
  let text: string;
  try {
    if (error instanceof BusError) text = error.message;
    else if (error instanceof Error) text = `${error.name}: ${error.message}`;
    else text = String(error);
  } catch {
    text = 'an error that cannot be shown';
  }
  return safeText(text);
}

/**
 * `sink` with every known secret (a password, a token) replaced by `***`; the list may grow while
 * the command runs. Only the known values: URLs in text from outside already went through
 * `safeText` (core's `redactSecrets`), and the `ui` command's own link must keep its access token.
 */
function redacting(sink: TextSink, secrets: readonly string[]): TextSink {
  return {
    write: (text: string) => {
      let out = String(text);
      for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join(REDACTED);
      return sink.write(out);
    },
  };
}
