/**
 * The demo on a routed bus (`WOODWORK_MESSAGE_BUS=routed`, members and routes from
 * config/routed.yml): its hooks' events on memory, the component chain (the question) and the
 * answer's stream over Redis (the shared server, REDIS_URL else 127.0.0.1:6379, under a prefix of
 * its own). Runs the built demo as a child process, as `npm run demo` does.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DemoSummary } from '../src/report.js';
import { FAILING_HOOK, RAW_TOOL_OUTPUT, answerChunks, normalizeToolResult } from '../src/script.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const configFile = fileURLToPath(new URL('../config/routed.yml', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

const env = () => ({
  WOODWORK_MESSAGE_BUS: 'routed',
  WOODWORK_BUS_CONFIG: configFile,
  WOODWORK_REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  WOODWORK_STREAM_PREFIX: `demo-routed-${randomBytes(5).toString('hex')}`,
});

const expectedChunks = answerChunks(normalizeToolResult({ session_id: 's', tool: 'search', output: RAW_TOOL_OUTPUT }).output);

describe('the demo on a routed bus (hooks on memory, chain and stream over Redis)', () => {
  it('runs the whole agent run, and its summary says which member carried what', async () => {
    const result = await run(['--json', '--delay-ms', '0'], env());
    expect(result.code, result.stderr).toBe(0);
    const s = JSON.parse(result.stdout) as DemoSummary;
    expect(s.backend).toBe('routed');
    expect(s.answer).toBe(expectedChunks.join(''));
    expect(s.stream.chunks_received).toEqual(expectedChunks);
    expect(s.hook_runs).toEqual({ log: 5 });
    // The failing hook's retries and dead letter happen on the memory member.
    expect(s.dead_letters).toHaveLength(1);
    expect(s.dead_letters[0]).toMatchObject({ event_type: 'tool.result', hook: FAILING_HOOK.name, attempts: 3 });

    const members = s.members!;
    expect(Object.keys(members)).toEqual(['local', 'chains']);
    expect(members['local']!.backend).toBe('memory');
    expect(members['chains']!.backend).toBe('redis');
    // Hooks' events on memory, every one of them and nothing else.
    expect(members['local']!.events).toEqual({ 'input.received': 1, 'agent.thinking': 1, 'tool.result': 1, 'agent.answered': 1, 'output.rendered': 1 });
    // The question (point_to_point to the agent) and the whole stream over Redis.
    const chains = members['chains']!.events;
    expect(chains['input.question']).toBe(1);
    expect(chains['stream.chunk']).toBe(expectedChunks.length);
    expect(Object.keys(chains).every((type) => type === 'input.question' || type.startsWith('stream.'))).toBe(true);
    // Each member's own count agrees with what it carried.
    expect(members['local']!.published).toBe(5);
    expect(members['chains']!.published).toBe(Object.values(chains).reduce((a, b) => a + b, 0));
  });

  it('prints the members in the text summary', async () => {
    const result = await run(['--delay-ms', '0'], env());
    expect(result.code, result.stderr).toBe(0);
    const text = result.stdout.replace(/\n +/g, ' ');
    expect(text).toMatch(/member local \(memory\) +5 published, \d+ handled; carried input\.received=1/);
    expect(text).toMatch(/member chains \(redis\) +\d+ published, \d+ handled; carried .*input\.question=1/);
  });

  it('refuses --role with a memory member, saying why', async () => {
    const result = await run(['--role', 'hooks'], env());
    expect(result.code).toBe(2);
    expect(result.stderr.replace(/\n +/g, ' ')).toContain("the routed bus's member local is memory");
  });
});
