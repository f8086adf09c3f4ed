/**
 * Dead letters across the members of a routed bus: one list oldest first with the member named,
 * redrive and purge reaching each record's own member, and the CLI's dlq commands on it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageBus } from '@woodwork/bus-core';
import { RoutedMessageBus } from '../src/index.js';
import { runCli } from '../src/cli/run-cli.js';
import { eventually, memoryBus, settle } from './support/memory.js';

const open: MessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((bus) => bus.close()));
});

/** Members `local` (default) and `shared` (tool.*), a worker failing while `failing.on`, and four dead letters alternating between members. */
async function seeded() {
  const local = memoryBus({ maxRetries: 0 });
  const shared = memoryBus({ maxRetries: 0 });
  const bus = new RoutedMessageBus({ members: { local, shared }, routes: [{ eventType: 'tool.*', member: 'shared' }], defaultMember: 'local' });
  open.push(bus);
  const failing = { on: true };
  const handled: string[] = [];
  await bus.subscribe(
    '*',
    (e) => {
      if (failing.on) throw new Error(`cannot ${e.eventType}`);
      handled.push(`${e.eventType}:${(e.payload as { n: number }).n}`);
    },
    { componentId: 'worker' },
  );
  const types = ['agent.step', 'tool.call', 'agent.step', 'tool.call'];
  for (let n = 0; n < types.length; n++) {
    await bus.publish({ sessionId: n < 2 ? 's1' : 's2', eventType: types[n]!, componentSource: 'test', payload: { n } });
    // Each record fails after the one before it: "oldest first" has one right answer.
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(n + 1));
    await settle(5);
  }
  return { bus, local, shared, failing, handled };
}

describe('routed dead letters', () => {
  it('lists every member\'s records oldest first, ids <member>/<id> and the member named', async () => {
    const { bus, local, shared } = await seeded();
    const records = await bus.getDeadLetterMessages();
    expect(records.map((r) => [r.member, r.envelope.eventType, (r.envelope.payload as { n: number }).n])).toEqual([
      ['local', 'agent.step', 0],
      ['shared', 'tool.call', 1],
      ['local', 'agent.step', 2],
      ['shared', 'tool.call', 3],
    ]);
    const own = [...(await local.getDeadLetterMessages()), ...(await shared.getDeadLetterMessages())].map((r) => r.id);
    for (const r of records) expect(own).toContain(r.id.slice(r.member.length + 1));
    expect(records.every((r) => r.id.startsWith(`${r.member}/`))).toBe(true);
    expect(await bus.getDeadLetterMessages(3)).toHaveLength(3);
    expect((await bus.getDeadLetterMessages(2)).map((r) => r.member)).toEqual(['local', 'shared']);
    expect(await bus.getDeadLetterMessages(0)).toEqual([]);
    expect((await bus.getDeadLetterMessages(100, { sessionId: 's2' })).map((r) => r.member)).toEqual(['local', 'shared']);
    expect((await bus.getDeadLetterMessages(100, { ids: [records[1]!.id, 'nobody/dl-1', 'dl-1'] })).map((r) => r.id)).toEqual([records[1]!.id]);
    await expect(bus.getDeadLetterMessages(100, { sesionId: 's2' } as never)).rejects.toThrow(/filter\.sesionId is not a dead-letter filter field/);
  });

  it('redrives each record on its own member, into its own group', async () => {
    const { bus, local, shared, failing, handled } = await seeded();
    failing.on = false;
    const records = await bus.getDeadLetterMessages();
    const result = await bus.redriveDeadLetters({ ids: [records[1]!.id, records[2]!.id] });
    expect(result.redriven.sort()).toEqual([records[1]!.id, records[2]!.id].sort());
    expect(result.skipped).toEqual([]);
    await eventually(() => expect(handled.sort()).toEqual(['agent.step:2', 'tool.call:1']));
    expect((await local.getDeadLetterMessages()).map((r) => (r.envelope.payload as { n: number }).n)).toEqual([0]);
    expect((await shared.getDeadLetterMessages()).map((r) => (r.envelope.payload as { n: number }).n)).toEqual([3]);
    // Oldest first with a limit: the oldest of all members, however many each holds.
    const limited = await bus.redriveDeadLetters({ limit: 1 });
    expect(limited.redriven).toEqual([records[0]!.id]);
  });

  it('purges by filter on every member, by id on the record\'s own member', async () => {
    const { bus, shared } = await seeded();
    const records = await bus.getDeadLetterMessages();
    expect(await bus.purgeDeadLetters({ ids: [records[3]!.id] })).toEqual({ purged: 1 });
    expect(await shared.getDeadLetterMessages()).toHaveLength(1);
    expect(await bus.purgeDeadLetters({ sessionId: 's1' })).toEqual({ purged: 2 });
    expect((await bus.getDeadLetterMessages()).map((r) => r.id)).toEqual([records[2]!.id]);
    expect(await bus.purgeDeadLetters()).toEqual({ purged: 1 });
  });

  it('the CLI lists, shows, redrives and purges a routed bus\'s dead letters, showing the member', async () => {
    const { bus, failing } = await seeded();
    const run = async (argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, {
        env: {},
        stdout: { write: (t: string) => ((stdout += t), true) },
        stderr: { write: (t: string) => ((stderr += t), true) },
        createBus: () => bus,
      });
      return { code, stdout, stderr };
    };
    const list = await run(['dlq', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+MEMBER\s+FAILED AT\s+GROUP/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['local', 'shared', 'local', 'shared']);
    const json = JSON.parse((await run(['dlq', 'list', '--json'])).stdout) as Array<{ dead_letter_id: string; member: string }>;
    expect(json.map((r) => r.member)).toEqual(['local', 'shared', 'local', 'shared']);
    const show = await run(['dlq', 'show', json[1]!.dead_letter_id]);
    expect(show.stdout).toMatch(/member\s+shared/);
    failing.on = false;
    const redrive = await run(['dlq', 'redrive', json[1]!.dead_letter_id, 'shared/dl-999']);
    expect(redrive.stdout).toContain(`redriven 1 dead letter: ${json[1]!.dead_letter_id}`);
    expect(redrive.stderr).toContain('no dead letter with id shared/dl-999');
    expect(redrive.code).toBe(1);
    const purge = await run(['dlq', 'purge', '--session', 's2']);
    expect(purge.stdout).toContain('purged 2 dead letters');
    expect((await bus.getDeadLetterMessages()).map((r) => r.member)).toEqual(['local']);
  });
});
