/**
 * The slower half of the example-app checks (`npm run test:slow`; example-app.test.ts and
 * example-redis-app.test.ts run in `npm test`): TypeScript's CommonJS mode (`module` nodenext, a
 * `.cts` file using `import x = require()`) type-checks the packages, as the READMEs promise, while
 * node16's CommonJS mode cannot; the type checks can fail (a wrong payload field in the app is a
 * compile error); and the redis app type-checks under `moduleResolution` bundler.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, installExample, tsc, type InstalledExample } from './support/example-app.js';

/** The packages of examples/redis-app (example-redis-app.test.ts runs it on Redis in `npm test`). */
const REDIS_EXAMPLE_PACKAGES = ['@woodwork/bus-core', '@woodwork/bus-redis', '@woodwork/bus-adapter'];

let example: InstalledExample;
let redisExample: InstalledExample;

beforeAll(async () => {
  example = await installExample('memory-app', ['@woodwork/bus-core', '@woodwork/bus-memory', '@woodwork/bus-adapter']);
  redisExample = await installExample('redis-app', REDIS_EXAMPLE_PACKAGES);
}, 300_000);

afterAll(() => {
  example?.remove();
  redisExample?.remove();
});

describe('examples/memory-app, the slow checks', () => {
  it('a CommonJS TypeScript file type-checks its require() of the packages under module nodenext', async () => {
    const result = await tsc(example, ['-p', 'tsconfig.cjs.json']);
    expect(result.code, describeRun('tsc -p tsconfig.cjs.json', result)).toBe(0);
  });

  it('under module node16 the same file is refused (TS1471): what the READMEs say to avoid', async () => {
    const result = await tsc(example, ['-p', 'tsconfig.cjs.json', '--module', 'node16', '--moduleResolution', 'node16']);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('TS1471');
  });

  it('a wrong payload field is a compile error under node16 and bundler alike', async () => {
    writeFileSync(
      join(example.dir, 'src', 'wrong.ts'),
      [
        "import { MessageBusAdapter } from '@woodwork/bus-adapter';",
        'interface Thought { text: string }',
        'export async function hook(adapter: MessageBusAdapter): Promise<void> {',
        "  await adapter.registerHook<Thought>('agent.thought', (thought) => thought.txt);",
        '}',
        '',
      ].join('\n'),
    );
    for (const config of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const result = await tsc(example, ['-p', config, '--noEmit', '--skipLibCheck']);
      expect(result.code, describeRun(`tsc -p ${config}`, result)).not.toBe(0);
      expect(result.stdout).toMatch(/src\/wrong\.ts\(4,\d+\): error TS(2339|2551): Property 'txt' does not exist on type 'Thought'/);
    }
  });
});

describe('examples/redis-app, the slow checks', () => {
  it('type-checks with moduleResolution bundler', async () => {
    const result = await tsc(redisExample, ['-p', 'tsconfig.bundler.json', '--skipLibCheck']);
    expect(result.code, describeRun('tsc -p tsconfig.bundler.json', result)).toBe(0);
  });
});
