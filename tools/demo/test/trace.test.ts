/**
 * `--trace`: the built demo (dist/main.js) run as a child process records its run with
 * OpenTelemetry through @woodwork/bus-otel and prints the spans as a tree with timings; with
 * `--json` the summary's `trace` holds them.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/report.js';
import { FAILING_HOOK } from '../src/script.js';
import type { TraceLine } from '../src/trace.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('WOODWORK_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('demo --trace', () => {
  it('records the run as one trace: every handler attempt under its publish, the failing hook retried then dead-lettered', async () => {
    const run = await runDemo(['--trace', '--json', '--delay-ms', '0']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as DemoSummary;
    const lines: TraceLine[] = summary.trace ?? [];
    expect(lines[0]).toMatchObject({ depth: 0, name: 'demo run (all)', start_ms: 0, parent_span_id: null });
    expect(new Set(lines.map((l) => l.trace_id)).size).toBe(1);
    const byId = new Map(lines.map((l) => [l.span_id, l]));
    const processes = lines.filter((l) => l.name.startsWith('process '));
    expect(processes.length).toBeGreaterThan(10);
    for (const p of processes) {
      const parent = byId.get(p.parent_span_id ?? '');
      expect(parent?.name, `${p.name} is under its publish`).toBe(p.name.replace('process ', 'publish '));
      expect(p.depth).toBe(parent!.depth + 1);
      expect(p.duration_ms).toBeGreaterThanOrEqual(0);
      expect(p.start_ms).toBeGreaterThanOrEqual(parent!.start_ms - 1);
    }
    // The audit hook fails every attempt: max_retries 2 -> attempts 1 and 2 retried, 3 dead-lettered.
    const failing = processes.filter((p) => p.name === `process ${FAILING_HOOK.event}` && p.outcome !== '1/acknowledged');
    expect(failing.map((p) => p.outcome)).toEqual(['1/retried', '2/retried', '3/dead_lettered']);
    expect(summary.dead_letters).toHaveLength(1);
  });

  it('prints the tree with start and duration in ms, under 80 columns; without --trace there is none', async () => {
    const run = await runDemo(['--trace', '--delay-ms', '0']);
    expect(run.code, run.stderr).toBe(0);
    const tree = run.stdout.slice(run.stdout.indexOf('\ntrace '));
    expect(tree).toMatch(/^\ntrace [0-9a-f]{32} \(\d+ spans\)\n start ms  took ms  span\n +0\.0 +\d+\.\d  demo run \(all\)\n/);
    expect(tree).toMatch(/\n +\d+\.\d +\d+\.\d {4}publish input\.question\n +\d+\.\d +\d+\.\d {6}process input\.question 1\/acknowledged\n/);
    expect(tree).toMatch(/process tool\.result 3\/dead_lettered/);
    for (const line of run.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);

    const plain = await runDemo(['--delay-ms', '0']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/\ntrace /);
  });
});
