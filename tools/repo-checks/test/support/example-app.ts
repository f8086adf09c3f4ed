/**
 * An example app under examples/ installed the way a user installs it: our packages packed with
 * `npm pack` (what the registry would serve), the example copied to a temporary folder outside the
 * repository (so nothing resolves through the workspace's node_modules), and `npm install` of the
 * tarballs there. Everything runs in child processes with a clean npm environment.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { published, repoRoot } from '../workspace.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the `npm_*` settings of the `npm test` that started us. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

/** Runs a command to its end (a 170 s hang guard kills it), with `env` added; never rejects. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', (error) => {
      clearTimeout(guard);
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

export function describeRun(what: string, result: Run): string {
  return `${what} exited ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

export interface InstalledExample {
  /** The temporary copy of the example, with node_modules. */
  dir: string;
  /** What `npm install` printed. */
  install: Run;
  remove(): void;
}

/** Packs `packageNames`, copies examples/<name> to a temporary folder and installs the tarballs there. */
export async function installExample(name: string, packageNames: readonly string[]): Promise<InstalledExample> {
  const root = mkdtempSync(join(tmpdir(), `woodwork-example-${name}-`));
  const remove = (): void => rmSync(root, { recursive: true, force: true });
  try {
    const packs = join(root, 'packs');
    mkdirSync(packs);
    for (const packageName of packageNames) {
      const pkg = published.find((p) => p.manifest.name === packageName);
      if (!pkg) throw new Error(`${packageName} is not a published package of this repository`);
      const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packs], pkg.dir);
      if (packed.code !== 0) throw new Error(describeRun(`npm pack of ${packageName}`, packed));
    }
    const dir = join(root, name);
    cpSync(join(repoRoot, 'examples', name), dir, { recursive: true, filter: (source) => !/[/\\](node_modules|dist)$/.test(source) });
    const tarballs = readdirSync(packs).map((file) => join(packs, file));
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], dir);
    if (install.code !== 0) throw new Error(describeRun('npm install of the packed tarballs', install));
    return { dir, install, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** The example's own TypeScript (installed from the registry cache like any devDependency). */
export function tsc(example: InstalledExample, args: string[]): Promise<Run> {
  return run(process.execPath, [join(example.dir, 'node_modules', 'typescript', 'bin', 'tsc'), ...args], example.dir);
}
