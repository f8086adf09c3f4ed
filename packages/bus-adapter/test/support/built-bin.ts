/**
 * The built `woodwork-bus` bin (dist/cli/main.js) for tests that run it as a child process.
 * `npm test` (nx) builds this package before its tests, so dist is normally fresh and left alone:
 * rewriting dist while another project's tests (the demo, the dashboard) import it made them fail.
 * Only a missing or stale dist (vitest run by hand after an edit) is rebuilt, once per test file.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const binPath = join(packageDir, 'dist', 'cli', 'main.js');
const run = promisify(execFile);
let building: Promise<string> | undefined;

/** True when dist is missing or older than a source file. */
function distIsStale(): boolean {
  if (!existsSync(binPath)) return true;
  const built = statSync(binPath).mtimeMs;
  const srcDir = join(packageDir, 'src');
  return readdirSync(srcDir, { recursive: true }).some((f) => String(f).endsWith('.ts') && statSync(join(srcDir, String(f))).mtimeMs > built);
}

/** The bin's path, after building dist if it is missing or stale. Give the calling hook a long timeout (tsc under load). */
export function builtBin(): Promise<string> {
  building ??= (async () => {
    if (distIsStale()) {
      const tsc = fileURLToPath(new URL('../../../../node_modules/typescript/bin/tsc', import.meta.url));
      await run(process.execPath, [tsc, '-p', 'tsconfig.lib.json'], { cwd: packageDir });
    }
    return binPath;
  })();
  return building;
}
