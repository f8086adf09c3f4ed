/**
 * The short form of the fault ledger in `npm test`: the CLI runs two of memory's scenarios
 * (poison message, hot session), Redis's server kill -9 and consumer kill, and every NATS scenario
 * but the 3-node cluster's (leader-killed; npm test's one election is bus-nats's test/cluster.test.ts),
 * with fewer messages and shorter faults; its last line must be the JSON the issue specifies with
 * a clean ledger.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const main = join(import.meta.dirname, '..', 'dist', 'main.js');

describe('npm run faults (short form)', () => {
  it('runs memory poison-message and hot-session: table, then one JSON line with a clean ledger', () => {
    const run = spawnSync(process.execPath, [main, 'memory', 'poison-message', 'hot-session', '--short'], { encoding: 'utf8', timeout: 110_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\| scenario +\| published/);
    const last = JSON.parse(lines.at(-1)!) as { backend: string; scenarios: Array<Record<string, unknown>> };
    expect(last.backend).toBe('memory');
    expect(last.scenarios.map((s) => s['name'])).toEqual(['poison-message', 'hot-session']);
    const keys = ['name', 'published', 'acknowledged', 'delivered', 'lost', 'unexpected', 'duplicatesDelivered', 'duplicatesStored', 'orderViolations', 'deadLetters', 'recoveryMs', 'serverLost', 'rejectedButStored'];
    for (const s of last.scenarios) {
      expect(Object.keys(s)).toEqual(keys);
      expect(s).toMatchObject({ lost: 0, unexpected: 0, duplicatesDelivered: 0, orderViolations: 0, serverLost: 0, rejectedButStored: 0 });
      expect(s['acknowledged']).toBe(s['published']);
      expect(s['delivered']).toBe(s['acknowledged']);
      expect(typeof s['recoveryMs']).toBe('number');
    }
    const [poison, hot] = last.scenarios;
    // Every 20th message of 100 is poison: five dead letters, nothing else given up.
    expect(poison?.['deadLetters']).toBe(5);
    expect(hot?.['deadLetters']).toBe(0);
    expect(hot?.['published']).toBe(999 + 1_000);
  });

  it('refuses a scenario the backend does not declare, and an unknown one', () => {
    const wrong = spawnSync(process.execPath, [main, 'memory', 'server-kill-9'], { encoding: 'utf8' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('does not apply to memory');
    const unknown = spawnSync(process.execPath, [main, 'memory', 'no-such-thing'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown scenario');
  });

  it('runs redis server-kill-9 and consumer-killed on servers and processes of its own: a clean ledger', () => {
    const run = spawnSync(process.execPath, [main, 'redis', 'server-kill-9', 'consumer-killed', '--short'], { encoding: 'utf8', timeout: 170_000 });
    expect(run.status, run.stderr).toBe(0);
    const last = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { backend: string; scenarios: Array<Record<string, unknown>> };
    expect(last.backend).toBe('redis');
    expect(last.scenarios.map((s) => s['name'])).toEqual(['server-kill-9', 'consumer-killed']);
    for (const s of last.scenarios) {
      expect(s).toMatchObject({ lost: 0, unexpected: 0, duplicatesStored: 0, orderViolations: 0, serverLost: 0 });
      expect(s['delivered']).toBe(s['acknowledged']);
    }
  }, 180_000);

  it('runs every nats scenario but the cluster one (own nats-server per scenario, consumer processes of its own): a clean ledger', () => {
    // leader-killed (a 3-node cluster) runs in npm run faults; npm test's one election is bus-nats's test/cluster.test.ts.
    const scenarios = ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'poison-message', 'hot-session'];
    const run = spawnSync(process.execPath, [main, 'nats', ...scenarios, '--short'], { encoding: 'utf8', timeout: 170_000 });
    expect(run.status, run.stderr).toBe(0);
    const last = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { backend: string; scenarios: Array<Record<string, unknown>> };
    expect(last.backend).toBe('nats');
    expect(last.scenarios.map((s) => s['name'])).toEqual(scenarios);
    for (const s of last.scenarios) {
      expect(s, String(s['name'])).toMatchObject({ lost: 0, unexpected: 0, duplicatesStored: 0, orderViolations: 0, serverLost: 0 });
      // A publish whose PubAck the fault swallowed was rejected yet may be stored (and delivered).
      expect(s['delivered'], String(s['name'])).toBe((s['acknowledged'] as number) + (s['rejectedButStored'] as number));
      expect(typeof s['recoveryMs'], String(s['name'])).toBe('number');
    }
    // Every 20th message of 100 is poison, plus one undecodable entry: six dead letters.
    expect(last.scenarios.find((s) => s['name'] === 'poison-message')?.['deadLetters']).toBe(6);
  }, 180_000);
});
