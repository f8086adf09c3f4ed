/**
 * What the CLI prints cannot drive a terminal or leak a secret: a handler's error text holding ESC
 * / CSI sequences, C1 controls or bidi overrides is shown escaped by `dlq list`, `dlq show` and
 * `tail` (text and JSON), and URLs with passwords are shown redacted.
 */
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// ESC ] 0 ; title BEL (retitle), ESC [ 2 J (clear screen), CSI (C1), NEL (C1), RLO (bidi), a lone surrogate.
const HOSTILE = 'boom \u001b]0;pwned\u0007\u001b[2J \u009b31m \u0085 \u202eexe.txt \ud800 redis://admin:S3cretPassw0rd@h:6379';
// eslint-disable-next-line no-control-regex
const RAW_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])/;

let bus: MemoryMessageBus;
beforeEach(() => {
  bus = createMessageBus({ maxRetries: 0, retry: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 }, closeTimeoutMs: 1000 });
});
afterEach(async () => {
  await bus.close();
});

async function cli(argv: string[], extra: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { env: {}, stdout, stderr, createBus: () => bus, ...extra });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function expectSafe(text: string): void {
  expect(text).not.toMatch(RAW_CONTROLS);
  expect(text).not.toContain('S3cretPassw0rd');
}

async function seedHostileDeadLetter(): Promise<string> {
  await bus.subscribe(
    'task.run',
    () => {
      throw new Error(HOSTILE);
    },
    { componentId: 'worker' },
  );
  await bus.publish({ sessionId: 's1', eventType: 'task.run', componentSource: 'planner', payload: { note: HOSTILE }, metadata: { m: '\u009b' } });
  const [record] = await vi.waitFor(async () => {
    const records = await bus.getDeadLetterMessages();
    expect(records).toHaveLength(1);
    return records;
  }, { timeout: 15_000, interval: 5 });
  return record!.id;
}

describe('the CLI escapes what it prints', () => {
  it('dlq list and dlq show, as text: controls escaped, the secret redacted', async () => {
    const id = await seedHostileDeadLetter();
    const list = await cli(['dlq', 'list']);
    expect(list.code).toBe(0);
    expectSafe(list.stdout);
    expect(list.stdout).toContain('\\u001b]0;pwned\\u0007');
    const show = await cli(['dlq', 'show', id]);
    expect(show.code).toBe(0);
    expectSafe(show.stdout);
    expect(show.stdout).toContain('\\u202eexe.txt');
    expect(show.stdout).toContain('redis://admin:***@h:6379');
  });

  it('dlq list and dlq show --json: still valid JSON, same values, nothing raw', async () => {
    const id = await seedHostileDeadLetter();
    for (const argv of [['--json', 'dlq', 'list'], ['--json', 'dlq', 'show', id]]) {
      const run = await cli(argv);
      expect(run.code).toBe(0);
      expectSafe(run.stdout);
      const parsed = JSON.parse(run.stdout) as unknown;
      const record = (Array.isArray(parsed) ? parsed[0] : parsed) as { error: string; envelope: { metadata: { m: string } } };
      expect(record.error).toContain('\u202eexe.txt'); // the value survives, only its printing is escaped
      expect(record.envelope.metadata.m).toBe('\u009b');
    }
  });

  it('tail, as text and as JSON', async () => {
    for (const json of [false, true]) {
      const controller = new AbortController();
      const stdout = new Capture();
      const stderr = new Capture();
      const argv = json ? ['--json', 'tail', '--session', 's1'] : ['tail', '--session', 's1'];
      const tail = runCli(argv, { env: {}, stdout, stderr, createBus: () => bus, signal: controller.signal });
      await vi.waitFor(() => expect(stderr.text).toContain('tailing session s1'), { timeout: 15_000 });
      await bus.publish({ messageId: 'msg-ok', sessionId: 's1', eventType: 'task.note', componentSource: 'planner', payload: { note: HOSTILE } });
      await vi.waitFor(() => expect(stdout.text).toContain('msg-ok'), { timeout: 15_000 });
      controller.abort();
      expect(await tail).toBe(0);
      expectSafe(stdout.text);
      if (json) expect((JSON.parse(stdout.text.trim()) as { payload: { note: string } }).payload.note).toContain('\u001b[2J');
    }
  });

  it('config errors and warnings on stderr are escaped and redacted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-safety-'));
    const path = join(dir, 'bad.yml');
    await writeFile(path, 'message_bus:\n  type: redis\n  redis_url: "http://admin:S3cretPassw0rd@h:6379/\\e[2J"\n');
    const run = await cli(['--config', path, 'health'], { createBus: undefined });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('redis_url');
    expectSafe(run.stderr);
    // The warning names the file; a file name can hold an escape sequence too.
    const warn = join(dir, 'warn\u001b[2J.yml');
    await writeFile(warn, 'message_bus:\n  stream_prefix: !custom woodwork\n');
    const warned = await cli(['--config', warn, 'health']);
    expect(warned.stderr).toContain('woodwork-bus: warning:');
    expect(warned.stderr).toContain('warn\\u001b[2J.yml (line 2, column 18): Unresolved tag: !custom');
    expectSafe(warned.stderr);
  });
});
