/**
 * `woodwork-bus` run in-process (`runCli`) on the real memory backend. Memory lives in one process,
 * so handing the CLI the test's own bus is the real thing for it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageEnvelope, WireDeadLetter, WireEnvelope } from '@woodwork/bus-core';
import { createMessageBus, type MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli, type CliIo } from '../src/cli/run-cli.js';

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let bus: MemoryMessageBus;
beforeEach(() => {
  bus = createMessageBus({ maxRetries: 0, retry: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 }, closeTimeoutMs: 1000 });
});
afterEach(async () => {
  await bus.close();
});

async function cli(argv: string[], extra: Partial<CliIo> = {}): Promise<Run> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { env: {}, stdout, stderr, createBus: () => bus, ...extra });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const eventually = <T>(check: () => T): Promise<T> => vi.waitFor(check, { timeout: 15_000, interval: 5 });

/** Three dead letters from the `worker` component: two in session s1, one in s2. */
async function seedDeadLetters(): Promise<{ failing: { on: boolean }; handled: MessageEnvelope[] }> {
  const failing = { on: true };
  const handled: MessageEnvelope[] = [];
  await bus.subscribe(
    'task.run',
    (envelope) => {
      if (failing.on) throw new Error(`cannot run ${String(envelope.payload['task'])}`);
      handled.push(envelope);
    },
    { componentId: 'worker' },
  );
  for (const [sessionId, task] of [['s1', 'a'], ['s1', 'b'], ['s2', 'c']] as const) {
    await bus.publish({ sessionId, eventType: 'task.run', componentSource: 'planner', componentTarget: 'worker', payload: { task } });
  }
  await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(3));
  return { failing, handled };
}

describe('woodwork-bus usage', () => {
  it.each([
    [[], 'missing command'],
    [['launch'], 'unknown command "launch"'],
    [['helth'], 'unknown command "helth" (did you mean "health"?)'],
    [['dlq', 'lst'], 'unknown dlq subcommand "lst" (did you mean "list"?)'],
    [['dlq'], 'dlq needs a subcommand'],
    [['dlq', 'list', '--all'], 'dlq list does not take --all'],
    [['dlq', 'list', '--limit', '0'], '--limit must be an integer from 1 to 10000; got "0"'],
    [['dlq', 'show'], 'dlq show needs exactly one dead-letter id'],
    [['dlq', 'redrive'], 'dlq redrive needs dead-letter ids, --all, or a filter'],
    [['dlq', 'purge', 'dl-1', '--all'], 'dlq purge: give ids, --all or filters, not several of them'],
    [['tail'], 'tail needs --session <id>'],
    [['tail', '--session', 'bad.session'], '--session must be 1-128 letters'],
    [['tail', '--session', 's1', '--event', 'a b'], '--event must be dot-separated tokens'],
    [['health', '--colour'], 'unknown option --colour'],
    [['tail', '--sesion', 's1'], 'unknown option --sesion (did you mean --session?)'],
    [['dlq', 'list', '--lim', '3'], 'unknown option --lim (did you mean --limit?)'],
    [['health', '--jsn'], 'unknown option --jsn (did you mean --json?)'],
    [['dlq', 'list', '--limit', '-5'], '--limit must be an integer from 1 to 10000; got "-5"'],
    [['dlq', 'list', '--limit=-5'], '--limit must be an integer from 1 to 10000; got "-5"'],
    [['dlq', 'list', '--limit'], '--limit needs a value'],
    [['tail', '--session', '--json'], '--session needs a value before the next option'],
    [['health', '--json=yes'], '--json takes no value'],
    [['health', 'now'], 'health takes no arguments; got "now"'],
  ])('%j is a usage error (exit 2) with the usage text', async (argv, message) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('Usage: woodwork-bus');
    expect(run.stdout).toBe('');
    // Node's own parseArgs wording never reaches the user.
    expect(run.stderr).not.toMatch(/ambiguous|To specify|Unknown option/);
  });

  it('--help says a memory bus is only visible inside its own process, and how to reach one (runCli with createBus)', async () => {
    const run = await cli(['--help']);
    expect(run.stdout).toContain('A memory bus (the default) lives inside one process');
    expect(run.stdout).toContain('runCli(argv, { env, stdout, stderr, createBus: () => bus })');
  });

  it('runCli with createBus reaches the app\'s own memory bus (what --help and the README describe)', async () => {
    await seedDeadLetters();
    const run = await cli(['dlq', 'list', '--json']);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as unknown[]).length).toBe(3);
  });

  it('prints the usage on --help and help (exit 0)', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['dlq', 'list', '--help']]) {
      const run = await cli(argv);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: woodwork-bus/);
    }
  });
});

describe('woodwork-bus configuration', () => {
  it('reads the environment like createFromEnvironment and names a bad variable (exit 1)', async () => {
    const run = await runCli(['health'], { env: { WOODWORK_MESSAGE_BUS: 'kafka' }, stdout: new Capture(), stderr: new Capture() });
    expect(run).toBe(1);
    const stderr = new Capture();
    await runCli(['health'], { env: { WOODWORK_MESSAGE_BUS: 'kafka' }, stdout: new Capture(), stderr });
    expect(stderr.text).toContain('invalid config: WOODWORK_MESSAGE_BUS must be one of the allowed values; got "kafka"');
  });

  it('creates the configured backend itself when no createBus is given', async () => {
    const stdout = new Capture();
    const code = await runCli(['health', '--json'], { env: { WOODWORK_MESSAGE_BUS: 'memory' }, stdout, stderr: new Capture() });
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text)).toMatchObject({ backend: 'memory', status: 'healthy' });
  });

  it('takes --config <file.yml> with ${VAR} substitution', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'woodwork-cli-'));
    const file = join(dir, 'bus.yml');
    await writeFile(file, 'message_bus:\n  type: memory\n  max_queue_size: ${QUEUE_SIZE}\n');
    const stdout = new Capture();
    const code = await runCli(['--config', file, 'health', '--json'], { env: { QUEUE_SIZE: '321' }, stdout, stderr: new Capture() });
    expect(code).toBe(0);
    expect(JSON.parse(stdout.text).details.maxQueueSize).toBe(321);

    const stderr = new Capture();
    expect(await runCli(['health', '--config', join(dir, 'missing.yml')], { env: {}, stdout: new Capture(), stderr })).toBe(1);
    expect(stderr.text).toMatch(/invalid config: .*missing\.yml cannot be read \(ENOENT\)/);
  });

  it('hands the checked config to createBus and leaves that bus open', async () => {
    const seen: string[] = [];
    const run = await cli(['health'], {
      env: { WOODWORK_MESSAGE_BUS: 'memory', WOODWORK_STREAM_PREFIX: 'cli_test' },
      createBus: (config) => {
        seen.push(`${config.type}/${String(config.options['streamPrefix'])}`);
        return bus;
      },
    });
    expect(run.code).toBe(0);
    expect(seen).toEqual(['memory/cli_test']);
    await expect(bus.healthCheck()).resolves.toMatchObject({ status: 'healthy' });
  });
});

describe('woodwork-bus health', () => {
  it('prints status, metrics and an aligned group table', async () => {
    await bus.subscribe('task.run', () => {}, { componentId: 'worker' });
    await bus.publish({ sessionId: 's1', eventType: 'task.run', componentSource: 'planner', pattern: 'pub_sub' });
    await eventually(async () => expect((await bus.healthCheck()).metrics.messagesConsumedTotal).toBe(1));
    const run = await cli(['health']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^backend +memory\nstatus +healthy\npublished +1\nconsumed +1\n/);
    // The bus was handed over (createBus): it is the app's own, so no "separate memory bus" note.
    expect(run.stderr).not.toContain('lives inside one process');
    const lines = run.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('GROUP')) as string;
    const row = lines[lines.indexOf(header) + 1] as string;
    expect(row.startsWith('worker~task~run ')).toBe(true);
    // Columns line up: each value starts where its header does.
    for (const [column, value] of [['PATTERN', 'task.run '], ['COMPONENT', 'worker '], ['SESSION', '- '], ['DURABLE', 'yes ']] as const) {
      expect(row.slice(header.indexOf(column))).toMatch(new RegExp(`^${value}`));
    }
  });

  it('prints the health report as JSON with --json', async () => {
    const run = await cli(['--json', 'health']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ backend: 'memory', status: 'healthy', groups: [] });
    expect(report.metrics).toHaveProperty('deadLetterQueueSize', 0);
  });
});

describe('woodwork-bus dlq', () => {
  it('lists dead letters in an aligned table, filtered and limited', async () => {
    await seedDeadLetters();
    const run = await cli(['dlq', 'list']);
    expect(run.code).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split('\n') as [string, ...string[]];
    expect(header).toMatch(/^ID +FAILED AT +GROUP +SESSION +EVENT +ATTEMPTS +ERROR$/);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.indexOf('worker~task~run')).toBe(header.indexOf('GROUP'));
      expect(row.indexOf('Error: cannot run')).toBe(header.indexOf('ERROR'));
    }
    expect((await cli(['dlq', 'list', '--session', 's1'])).stdout.trimEnd().split('\n')).toHaveLength(3);
    expect((await cli(['dlq', 'list', '--limit', '1'])).stdout.trimEnd().split('\n')).toHaveLength(2);
    expect((await cli(['dlq', 'list', '--group', 'nobody'])).stdout).toBe('no dead letters\n');
  });

  it('lists and shows dead letters as core wire records with --json', async () => {
    await seedDeadLetters();
    const listed = JSON.parse((await cli(['dlq', 'list', '--json', '--session', 's2'])).stdout) as WireDeadLetter[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ group: 'worker~task~run', error: 'cannot run c', error_type: 'Error', attempts: 1 });
    expect(listed[0]?.envelope).toMatchObject({ session_id: 's2', event_type: 'task.run', payload: { task: 'c' } });
    const id = listed[0]?.dead_letter_id as string;
    const shown = await cli(['dlq', 'show', id, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual(listed[0]);
  });

  it('shows one dead letter for people, and fails for an unknown id', async () => {
    await seedDeadLetters();
    const [record] = await bus.getDeadLetterMessages(1, { sessionId: 's2' });
    const run = await cli(['dlq', 'show', record?.id as string]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^id +\S+\ngroup +worker~task~run\n/);
    expect(run.stdout).toMatch(/\nerror +Error: cannot run c\n/);
    expect(run.stdout).toMatch(/\nfrom +planner\nto +worker\n/);
    expect(run.stdout).toContain('payload:\n{\n  "task": "c"\n}\n');
    const missing = await cli(['dlq', 'show', 'no-such-id']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no dead letter with id no-such-id');
  });

  it('redrives by id back to the group; an unknown id is reported with exit 1', async () => {
    const { failing, handled } = await seedDeadLetters();
    failing.on = false;
    const [first] = await bus.getDeadLetterMessages(1);
    const run = await cli(['dlq', 'redrive', first?.id as string]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`redriven 1 dead letter: ${first?.id}\n`);
    await eventually(() => expect(handled.map((e) => e.payload['task'])).toEqual(['a']));
    expect(await bus.getDeadLetterMessages()).toHaveLength(2);

    const again = await cli(['dlq', 'redrive', first?.id as string, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toEqual({ redriven: [], skipped: [], not_found: [first?.id] });
    expect(again.stderr).toContain(`no dead letter with id ${first?.id}`);
  });

  it('redrives by session filter, and reports records whose group is gone as skipped', async () => {
    const { failing, handled } = await seedDeadLetters();
    failing.on = false;
    const run = await cli(['dlq', 'redrive', '--session', 's1']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^redriven 2 dead letters: /);
    await eventually(() => expect(handled.map((e) => e.payload['task']).sort()).toEqual(['a', 'b']));

    // A private group's dead letters cannot go back once the group is gone.
    const privateId = await bus.subscribe('job.once', () => {
      throw new Error('no');
    });
    await bus.publish({ sessionId: 's9', eventType: 'job.once', componentSource: 'x', pattern: 'pub_sub' });
    await eventually(async () => expect(await bus.getDeadLetterMessages(10, { sessionId: 's9' })).toHaveLength(1));
    await bus.unsubscribe(privateId);
    const skipped = await cli(['dlq', 'redrive', '--session', 's9']);
    expect(skipped.code).toBe(1);
    expect(skipped.stdout).toMatch(/^redriven 0 dead letters\nskipped 1:\nID +REASON\n\S+ +group private-\S+ no longer exists\n$/);
  });

  it('purges by id, by filter and --all', async () => {
    await seedDeadLetters();
    const [first] = await bus.getDeadLetterMessages(1);
    expect(await cli(['dlq', 'purge', first?.id as string])).toMatchObject({ code: 0, stdout: 'purged 1 dead letter\n' });
    const unknown = await cli(['dlq', 'purge', 'nope', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({ purged: 0, not_found: ['nope'] });
    expect(await cli(['dlq', 'purge', '--session', 's2'])).toMatchObject({ code: 0, stdout: 'purged 1 dead letter\n' });
    expect(await bus.getDeadLetterMessages()).toHaveLength(1);
    expect(await cli(['dlq', 'purge', '--all', '--json'])).toMatchObject({ code: 0, stdout: '{\n  "purged": 1,\n  "not_found": []\n}\n' });
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });
});

describe('woodwork-bus tail', () => {
  it("prints one session's messages without taking any from other groups, then leaves no group behind", async () => {
    const worker: string[] = [];
    await bus.subscribe('*', (e) => void worker.push(`${e.sessionId}:${e.eventType}`), { componentId: 'worker' });
    const controller = new AbortController();
    const stdout = new Capture();
    const stderr = new Capture();
    const tail = runCli(['tail', '--session', 's1'], { env: {}, stdout, stderr, createBus: () => bus, signal: controller.signal });
    await eventually(() => expect(stderr.text).toContain('tailing session s1, all events, on memory'));
    expect((await bus.healthCheck()).groups).toHaveLength(2);

    await bus.publish({ sessionId: 's1', eventType: 'agent.thought', componentSource: 'planner', pattern: 'pub_sub', payload: { n: 1 } });
    await bus.publish({ sessionId: 's2', eventType: 'agent.thought', componentSource: 'planner', pattern: 'pub_sub', payload: { n: 2 } });
    await bus.publish({ sessionId: 's1', eventType: 'tool.call', componentSource: 'planner', pattern: 'pub_sub', payload: { n: 3 } });
    // Targeted at the worker: the worker's group gets it, and the tail (an observer) sees it too.
    await bus.publish({ sessionId: 's1', eventType: 'task.run', componentSource: 'planner', componentTarget: 'worker', payload: { n: 4 } });
    // Targeted at a component that has not subscribed: the tail sees it, and it still waits for that component.
    await bus.publish({ sessionId: 's1', eventType: 'task.run', componentSource: 'planner', componentTarget: 'later', payload: { n: 5 } });
    await eventually(() => expect(worker).toHaveLength(4));
    await eventually(() => expect(stdout.text.trimEnd().split('\n')).toHaveLength(4));
    const lines = stdout.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}agent\.thought +pub_sub +planner -> \* +msg-\S+ {2}\{"n":1\}$/);
    expect(lines[1]).toMatch(/ {2}tool\.call +pub_sub .* \{"n":3\}$/);
    expect(lines[2]).toMatch(/ {2}task\.run +point_to_point +planner -> worker .* \{"n":4\}$/);
    expect(lines[3]).toMatch(/ {2}task\.run +point_to_point +planner -> later .* \{"n":5\}$/);
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({ later: 1 });
    expect(worker.sort()).toEqual(['s1:agent.thought', 's1:task.run', 's1:tool.call', 's2:agent.thought']);

    controller.abort();
    expect(await tail).toBe(0);
    expect(stderr.text).toContain('tail stopped');
    const health = await bus.healthCheck();
    expect(health.groups.map((g) => g.group)).toEqual(['worker']);
    expect(health.metrics.activeSubscriptions).toBe(1);
  });

  it('filters by event and prints wire envelopes with --json', async () => {
    const controller = new AbortController();
    const stdout = new Capture();
    const stderr = new Capture();
    const tail = runCli(['tail', '--session', 's1', '--event', 'tool.call', '--json'], {
      env: {},
      stdout,
      stderr,
      createBus: () => bus,
      signal: controller.signal,
    });
    await eventually(() => expect(stderr.text).toContain('event tool.call'));
    await bus.publish({ sessionId: 's1', eventType: 'agent.thought', componentSource: 'planner', pattern: 'pub_sub' });
    await bus.publish({ sessionId: 's1', eventType: 'tool.call', componentSource: 'planner', pattern: 'pub_sub', payload: { tool: 'grep' } });
    await eventually(() => expect(stdout.text).not.toBe(''));
    controller.abort();
    expect(await tail).toBe(0);
    const envelopes = stdout.text.trimEnd().split('\n').map((line) => JSON.parse(line) as WireEnvelope);
    expect(envelopes).toHaveLength(1);
    expect(envelopes[0]).toMatchObject({ session_id: 's1', event_type: 'tool.call', payload: { tool: 'grep' }, pattern: 'pub_sub' });
    expect((await bus.healthCheck()).groups).toEqual([]);
  });

  it('makes an interrupted command fail (exit 1)', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = await cli(['health'], { signal: controller.signal });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('interrupted');
  });
});
