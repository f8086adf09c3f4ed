/**
 * One server process of a fault scenario's own (redis-server, nats-server): a free port, an own data
 * folder under the OS tmpdir, started and restarted on that port and folder, paused and killed by
 * PID. The shared servers on the standard ports are never touched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OwnServer } from '@woodwork/bus-conformance/harness';

/** The first of `candidates` that exists, unless the environment variable `envName` names one. */
export function findBinary(envName: string, candidates: readonly string[], hint: string): string {
  const found = process.env[envName] ?? candidates.find((b) => existsSync(b));
  if (!found) throw new Error(`${hint} not found: install it or set ${envName}`);
  return found;
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcessSpec {
  /** For messages and the data folder's name, e.g. `redis`. */
  readonly name: string;
  readonly binary: string;
  /** The command line for a port and a data folder. */
  args(port: number, dir: string): string[];
  /** Whether a server answers on the port (a PING, a greeting). */
  answers(port: number): Promise<boolean>;
  /** The options that connect a bus to the server on `port`. */
  busOptions(port: number): Record<string, unknown>;
}

/** Starts the server and hands back its controls; `dispose` kills it and deletes its folder. */
export async function startServerProcess(spec: ServerProcessSpec): Promise<OwnServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `ww-faults-${spec.name}-`));
  let proc: ChildProcess | undefined;
  const start = async (options: { wipe?: boolean } = {}): Promise<void> => {
    if (options.wipe) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    proc = spawn(spec.binary, spec.args(port, dir), { stdio: 'ignore' });
    for (let i = 0; !(await spec.answers(port)); i++) {
      if (proc.exitCode !== null || i > 800) throw new Error(`${spec.name} server did not start on ${port}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGCONT');
    p.kill(signal);
    await exited;
  };
  await start();
  return {
    busOptions: spec.busOptions(port),
    kill,
    start,
    pause: async () => void proc?.kill('SIGSTOP'),
    resume: async () => void proc?.kill('SIGCONT'),
    dispose: async () => {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
