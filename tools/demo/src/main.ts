/**
 * `npm run demo` / `node tools/demo/dist/main.js`: parses the options, runs the demo, prints the
 * timeline and the summary (or only the summary as JSON with `--json`). Exit status: 0 done,
 * 1 the run failed (for example a backend package is not installed), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { formatSummary, hanging } from './report.js';
import { DemoUsageError, ROLES, defaultTimeoutMs, loadDemoBusConfig, runDemo, type Role } from './run.js';
import { configSecrets, redactProcessOutput } from './redact-output.js';

const USAGE = `Usage: npm run demo -- [options]

A woodwork-style agent run on the message bus: input asks the agent a question,
the agent streams its answer to output in chunks, hooks log every event, a pipe
rewrites the tool result, and one hook always fails, so its message ends in the
dead-letter queue.

Options:
  --role <role>     all (default) | input | agent | output | hooks: one
                    component per process (needs a backend that crosses
                    processes: WOODWORK_MESSAGE_BUS=redis or nats)
  --session <id>    session id (default: a fresh one; with --role, give every
                    process the same)
  --json            print only the summary, as JSON
  --trace           record the run with OpenTelemetry (@woodwork/bus-otel)
                    and print its spans as a tree with timings (with --json:
                    the summary's "trace")
  --delay-ms <n>    pause between the agent's chunks (default 20; output reads
                    at half that speed)
  --window <n>      stream window: chunks the agent may send ahead of the
                    reader (default 3)
  --timeout-ms <n>  give up after this long (default 15000 plus three times
                    the pacing the delay adds)
  -h, --help        this text

Environment: WOODWORK_MESSAGE_BUS (memory | redis | nats, default memory),
WOODWORK_REDIS_URL, WOODWORK_NATS_URL, WOODWORK_STREAM_PREFIX,
WOODWORK_CONSUMER_GROUP.`;

function integerOption(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new DemoUsageError(`--${name} must be an integer >= ${min}; got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<number> {
  const secrets = redactProcessOutput(process.env);
  let json = false;
  try {
    const { values } = parseArgs({
      options: {
        role: { type: 'string', default: 'all' },
        session: { type: 'string' },
        json: { type: 'boolean', default: false },
        trace: { type: 'boolean', default: false },
        'delay-ms': { type: 'string' },
        window: { type: 'string' },
        'timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    json = values.json;
    const role = values.role as Role;
    if (!ROLES.includes(role)) throw new DemoUsageError(`--role must be one of ${ROLES.join(', ')}; got ${JSON.stringify(values.role)}`);
    const sessionId = values.session ?? (role === 'all' ? `demo-${randomUUID().slice(0, 8)}` : 'demo-session');
    const delayMs = integerOption(values['delay-ms'], 'delay-ms', 20, 0);
    // A config file may hold secrets literally: they are redacted too.
    secrets.push(...configSecrets(await loadDemoBusConfig(process.env).catch(() => ({}))));
    const summary = await runDemo({
      role,
      sessionId,
      delayMs,
      window: integerOption(values.window, 'window', 3, 1),
      timeoutMs: integerOption(values['timeout-ms'], 'timeout-ms', defaultTimeoutMs(delayMs), 1),
      print: !json,
      trace: values.trace,
      env: process.env,
    }, {
      // One role of several processes: say (on stderr, apart from the summary) when this one listens,
      // so whoever starts the processes can start the input last.
      onStarted: () => {
        if (role !== 'all') console.error(`demo: ${role} subscribed`);
      },
    });
    console.log(json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    return 0;
  } catch (error) {
    const usage = error instanceof DemoUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const message = error instanceof Error ? error.message : String(error);
    if (json) console.log(JSON.stringify({ error: { name: (error as Error).name, message } }, null, 2));
    console.error(hanging('demo: ', message));
    if (usage) console.error('Run with --help for the options.');
    return usage ? 2 : 1;
  }
}

process.exitCode = await main();
