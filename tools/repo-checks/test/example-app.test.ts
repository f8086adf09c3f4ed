/**
 * examples/memory-app as a user gets it: core, memory and the adapter packed with `npm pack`,
 * installed from those tarballs into a copy of the example outside the repository, type-checked
 * with `moduleResolution` node16 (declaration files included) and bundler, compiled and run, and
 * loaded from CommonJS with require(). The slower checks (TypeScript's CommonJS mode, a type error
 * that must fail) are in example-app.slow-test.ts (`npm run test:slow`). Needs the packages built.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, installExample, run, tsc, type InstalledExample } from './support/example-app.js';

const PACKAGES = ['@woodwork/bus-core', '@woodwork/bus-memory', '@woodwork/bus-adapter'];
let example: InstalledExample;

beforeAll(async () => {
  example = await installExample('memory-app', PACKAGES);
}, 180_000);

afterAll(() => example?.remove());

describe('examples/memory-app, installed from packed tarballs', () => {
  it('has each package as a real folder from its tarball (no link into the workspace), and npm printed no install-script warning', () => {
    for (const name of PACKAGES) {
      const dir = join(example.dir, 'node_modules', name);
      expect(lstatSync(dir).isSymbolicLink(), `${name} is a link`).toBe(false);
      expect(existsSync(join(dir, 'LICENSE')), `${name}/LICENSE`).toBe(true);
      expect(existsSync(join(dir, 'test')), `${name} ships no tests`).toBe(false);
    }
    const manifest = JSON.parse(readFileSync(join(example.dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of PACKAGES) expect(manifest.dependencies[name]).toMatch(/^file:.*\.tgz$/);
    expect(`${example.install.stdout}${example.install.stderr}`).not.toMatch(/allowScripts|install scripts/);
  });

  it('type-checks with moduleResolution bundler', async () => {
    const result = await tsc(example, ['-p', 'tsconfig.bundler.json', '--skipLibCheck']);
    expect(result.code, describeRun('tsc -p tsconfig.bundler.json', result)).toBe(0);
  });

  it('type-checks with moduleResolution node16 (with our declaration files), compiles, and runs', async () => {
    const built = await tsc(example, ['-p', 'tsconfig.json']);
    expect(built.code, describeRun('tsc -p tsconfig.json', built)).toBe(0);
    const started = await run(process.execPath, ['dist/main.js'], example.dir);
    expect(started.code, describeRun('node dist/main.js', started)).toBe(0);
    expect(started.stdout.split('\n')).toEqual([
      'backend: memory (config memory, max_queue_size 1000)',
      'answer: 29 characters, well asked (to "How tall is the Eiffel Tower?")',
      'refused: sessionId (INVALID_MESSAGE)',
      'health: healthy, published 2',
      'closed',
      '',
    ]);
    expect(started.stderr).toBe('');
  });

  it('loads with require() from CommonJS (Node >= 20.19), one copy of core shared with the adapter', async () => {
    const started = await run(process.execPath, ['src/require.cjs'], example.dir);
    expect(started.code, describeRun('node src/require.cjs', started)).toBe(0);
    expect(started.stdout).toBe('cjs config: message_bus_dev.yml\ncjs backend: memory\ncjs refused: max_queue_size\n');
    expect(started.stderr).toBe('');
  });

  it('installs the woodwork-bus bin: --help says where a memory bus lives, usage errors are plain', async () => {
    const bin = join(example.dir, 'node_modules', '.bin', 'woodwork-bus');
    const help = await run(bin, ['--help'], example.dir);
    expect(help.code, describeRun('woodwork-bus --help', help)).toBe(0);
    expect(help.stdout).toContain('A memory bus (the default) lives inside one process');
    const misspelt = await run(bin, ['tail', '--sesion', 's1'], example.dir);
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr).toContain('woodwork-bus: unknown option --sesion (did you mean --session?)');
    const negative = await run(bin, ['dlq', 'list', '--limit', '-5'], example.dir);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('--limit must be an integer from 1 to 10000; got "-5"');
  });
});
