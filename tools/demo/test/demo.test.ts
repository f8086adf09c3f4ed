/**
 * Runs the built demo (dist/main.js) as a child process, as `npm run demo` does, and checks what it
 * did from its JSON summary and its exit status.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { MessageBusFactory } from '@woodwork/bus-adapter';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/report.js';
import { defaultTimeoutMs } from '../src/run.js';
import { FAILING_HOOK, QUESTION, RAW_TOOL_OUTPUT, answerChunks, normalizeToolResult } from '../src/script.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any WOODWORK_* variable of the machine, plus `env`. */
function runDemo(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('WOODWORK_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A demo process that resolves `started` once it says (on stderr) that its role is subscribed. */
function startDemo(args: string[], env: Record<string, string>): { started: Promise<void>; done: Promise<Run> } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('WOODWORK_')));
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(' subscribed')) markStarted();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      markStarted();
      resolve({ code, stdout, stderr });
    });
  });
  return { started, done };
}

/** Text output with wrapped lines joined again (continuation lines start with spaces). */
function unwrapped(text: string): string {
  return text.replace(/\n +/g, ' ');
}

async function summaryOf(args: string[]): Promise<DemoSummary> {
  const run = await runDemo(['--json', ...args]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as DemoSummary;
}

const expectedChunks = answerChunks(normalizeToolResult({ session_id: 's', tool: 'search', output: RAW_TOOL_OUTPUT }).output);

describe('the demo on the in-memory bus', () => {
  it('runs the whole agent run and reports it: events, hooks, pipe, stream, dead letter', async () => {
    const s = await summaryOf(['--delay-ms', '0', '--session', 'demo-test-1']);
    expect(s.backend).toBe('memory');
    expect(s.role).toBe('all');
    expect(s.session_id).toBe('demo-test-1');
    expect(s.question).toBe(QUESTION);

    // Every event emitted once, and the logging hook saw each of them.
    expect(s.events_emitted).toEqual({
      'input.received': 1,
      'agent.thinking': 1,
      'tool.result': 1,
      'agent.answered': 1,
      'output.rendered': 1,
    });
    expect(s.hook_runs).toEqual({ log: 5 });

    // The pipe rewrote the tool result; the agent answered from the rewritten payload.
    expect(s.rewritten).toEqual({ event: 'tool.result', before: RAW_TOOL_OUTPUT, after: 'The Eiffel Tower is 330 metres tall.' });

    // The answer arrived whole and in order.
    expect(expectedChunks.length).toBeGreaterThan(5);
    expect(s.stream.chunks_sent).toEqual(expectedChunks);
    expect(s.stream.chunks_received).toEqual(expectedChunks);
    expect(s.answer).toBe(expectedChunks.join(''));
    expect(s.answer).toContain('The Eiffel Tower is 330 metres tall.');

    // The failing hook ran 3 times (max_retries 2) and its message is the one dead letter.
    expect(s.hook_failures).toEqual({ [FAILING_HOOK.name]: 3 });
    expect(s.dead_letters).toHaveLength(1);
    const [dead] = s.dead_letters;
    expect(dead).toMatchObject({ event_type: 'tool.result', hook: 'audit', error: FAILING_HOOK.error, attempts: 3 });
    expect(dead?.group).toContain('audit');
    expect(s.bus).toMatchObject({ failed_attempts: 3, dead_lettered: 1 });
    expect(s.bus?.published).toBeGreaterThan(expectedChunks.length);

    for (const name of ['question_to_first_chunk', 'streaming', 'tool_result_to_dead_letter', 'total']) {
      expect(typeof s.timings_ms[name], name).toBe('number');
    }
  });

  it('reports timings that measure what their names say, with the settings they depend on', async () => {
    const s = await summaryOf(['--delay-ms', '1']);
    const t = s.timings_ms;
    const names = ['question_to_first_chunk', 'streaming', 'emit_to_log_hook_avg', 'emit_to_log_hook_max', 'tool_result_to_dead_letter', 'total'];
    expect(Object.keys(t).sort()).toEqual([...names].sort());
    expect(s.settings).toEqual({ delay_ms: 1, reader_delay_ms: 2, window: 3, max_retries: 2, retry_waits_ms: [10, 20] });
    // From the publish of tool.result to its dead letter: both retry waits lie in between (a lower
    // bound the timers set, not a speed claim; 1 ms of clock rounding allowed).
    expect(t['tool_result_to_dead_letter']).toBeGreaterThanOrEqual(10 + 20 - 1);
    expect(t['emit_to_log_hook_max']).toBeGreaterThanOrEqual(t['emit_to_log_hook_avg'] as number);
    for (const name of names) expect(t[name], name).toBeLessThanOrEqual(t['total'] as number);
  });

  it('keeps the chunks in order when the window forces the agent to wait for the reader', async () => {
    // The reader paces at twice the writer's delay. A write counts as waiting when the previous chunk
    // is not taken yet, which holds while a credit message reaches the writer faster than the delay:
    // 50 ms (not 2) leaves that margin to a busy machine, and one of the 15 writes is enough.
    const s = await summaryOf(['--delay-ms', '50', '--window', '1']);
    expect(s.stream.window).toBe(1);
    expect(s.stream.chunks_received).toEqual(expectedChunks);
    expect(s.stream.writes_waited_for_credit).toBeGreaterThan(0);
  });

  it('prints a readable timeline and summary without --json', async () => {
    const run = await runDemo(['--delay-ms', '0']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\] pipe +tool\.result/);
    expect(run.stdout).toMatch(/\] output +chunk +1 "According "/);
    expect(unwrapped(run.stdout)).toContain('dead-lettered tool.result from group hooks-hook-tool_result-audit-');
    expect(run.stdout).toMatch(/Summary \(backend memory, role all, session demo-[0-9a-f]{8}\)/);
    expect(run.stdout).toMatch(/dead letters +1/);
  });

  it('fits an 80-column terminal: timeline, summary, help and errors', async () => {
    const runs = [await runDemo(['--delay-ms', '0']), await runDemo(['--help']), await runDemo(['--role', 'agent'])];
    for (const run of runs) {
      for (const line of `${run.stdout}${run.stderr}`.split('\n')) {
        expect(line.length, line).toBeLessThanOrEqual(80);
        expect(line, 'trailing spaces').not.toMatch(/ $/);
      }
    }
    // Long values wrap under their column rather than being cut: the whole answer is still there.
    const text = unwrapped(runs[0]?.stdout ?? '');
    expect(text).toContain('According to search: The Eiffel Tower is 330 metres tall. (answered by the demo agent)');
  });

  it('explains that the memory bus is single-process when a single role is asked for', async () => {
    const run = await runDemo(['--role', 'agent']);
    expect(run.code, run.stderr).toBe(2);
    expect(unwrapped(run.stderr)).toContain('memory backend lives inside one process');
    expect(unwrapped(run.stderr)).toContain('WOODWORK_MESSAGE_BUS=redis');
  });

  it('rejects bad options with usage help', async () => {
    const bad = await runDemo(['--role', 'boss']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('--role must be one of all, input, agent, output, hooks');
    const unknown = await runDemo(['--fast']);
    expect(unknown.code, unknown.stderr).toBe(2);
    expect(unknown.stderr).toContain('--help');
    const help = await runDemo(['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('--role <role>');
  });
});

describe('the default deadline', () => {
  it('grows with --delay-ms, so a slowly paced run is not cut off', () => {
    // The pacing alone: the agent waits delay after each chunk, the output twice that.
    const pacing = (delayMs: number): number => expectedChunks.length * delayMs * 3;
    expect(defaultTimeoutMs(20)).toBe(15_000 + 3 * pacing(20));
    expect(defaultTimeoutMs(0)).toBe(15_000);
    for (const delayMs of [20, 500, 1000, 5000]) expect(defaultTimeoutMs(delayMs)).toBeGreaterThan(15_000 + pacing(delayMs));
  });
});

/** The server backends, each on its shared server with a prefix of its own. */
const serverBackends: Record<string, (prefix: string) => Record<string, string>> = {
  redis: (prefix) => ({ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', WOODWORK_STREAM_PREFIX: prefix }),
  nats: (prefix) => ({ WOODWORK_MESSAGE_BUS: 'nats', WOODWORK_NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', WOODWORK_STREAM_PREFIX: prefix }),
};

/** The NATS prefixes the runs below used: their streams are deleted after, so the shared server keeps none. */
const natsPrefixes: string[] = [];
afterAll(async () => {
  for (const prefix of natsPrefixes) {
    const bus = await MessageBusFactory.createFromEnvironment(serverBackends['nats']!(prefix));
    await (bus as unknown as { deleteNamespace(): Promise<unknown> }).deleteNamespace();
  }
}, 60_000);

describe.each(Object.entries(serverBackends))('the demo on %s', (backend, backendEnv) => {
  const on = (prefix: string): Record<string, string> => {
    if (backend === 'nats') natsPrefixes.push(prefix);
    return backendEnv(prefix);
  };
  it(`does on ${backend} the same work as on memory`, async () => {
    const memory = await summaryOf(['--delay-ms', '0', '--session', 'same-work']);
    const run = await runDemo(['--json', '--delay-ms', '0', '--session', 'same-work'], on(`demo-${randomUUID().slice(0, 8)}`));
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as DemoSummary;
    expect(summary.backend).toBe(backend);
    for (const key of ['events_emitted', 'hook_runs', 'hook_failures', 'rewritten', 'answer', 'dead_letters'] as const) {
      expect(summary[key], key).toEqual(key === 'dead_letters' ? memory[key].map((d) => ({ ...d, group: expect.any(String) })) : memory[key]);
    }
    expect(summary.stream.chunks_received).toEqual(memory.stream.chunks_sent);
  }, 60_000);

  it(`--role runs each component in its own process over ${backend}, and together they do the whole run`, async () => {
    const env = on(`demo-${randomUUID().slice(0, 8)}`);
    const session = `roles-${randomUUID().slice(0, 8)}`;
    // The hooks process waits for the whole run, and its clock starts before the other three
    // processes start one after another (seconds each on a loaded machine): a deadline for that.
    const args = (role: string) => ['--json', '--delay-ms', '0', '--timeout-ms', '90000', '--role', role, '--session', session];
    // Listeners first, each started once the previous one says it is subscribed; the input last.
    const runs: Record<string, Promise<Run>> = {};
    for (const role of ['hooks', 'output', 'agent']) {
      const { started, done } = startDemo(args(role), env);
      runs[role] = done;
      await started;
    }
    runs['input'] = runDemo(args('input'), env);
    const results = Object.fromEntries(await Promise.all(Object.entries(runs).map(async ([role, run]) => [role, await run] as const)));
    for (const [role, run] of Object.entries(results)) expect(run.code, `${role}: ${run.stderr}`).toBe(0);
    const s = Object.fromEntries(Object.entries(results).map(([role, run]) => [role, JSON.parse(run.stdout) as DemoSummary]));
    // Each process saw only its own part, and the parts add up to the whole run.
    for (const summary of Object.values(s)) expect(summary.backend).toBe(backend);
    expect(s['input']!.events_emitted).toEqual({ 'input.received': 1 });
    expect(s['output']!.answer).toBe('According to search: The Eiffel Tower is 330 metres tall. (answered by the demo agent)');
    expect(s['output']!.stream.chunks_received).toEqual(s['agent']!.stream.chunks_sent);
    expect(s['hooks']!.hook_runs).toEqual({ log: 5 });
    expect(s['hooks']!.dead_letters).toHaveLength(1);
    expect(new Set(Object.values(s).map((x) => x.role))).toEqual(new Set(['input', 'output', 'agent', 'hooks']));
  }, 120_000);
});

describe('the demo on another backend', () => {
  it('names a bad WOODWORK_MESSAGE_BUS and what is allowed', async () => {
    const run = await runDemo([], { WOODWORK_MESSAGE_BUS: 'kafka' });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain('WOODWORK_MESSAGE_BUS');
    expect(run.stderr).toContain('memory, redis, nats');
  });
});
