/** Starting a benchmark's own server: a free port, and waiting until it accepts connections. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

/**
 * A benchmark's own server: `bin args` (where `args(port, dir)` gives the arguments for a free port
 * and a fresh data folder) started and waited for; `stop()` kills it and removes the folder. `name`
 * names it in the error when it does not start.
 */
export async function ownServer({ bin, name, args }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `woodwork-bench-${name}-`));
  const proc = spawn(bin, args(port, dir), { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i > 400) throw new Error(`${name} did not start (install it, or pass --url)`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    pid: proc.pid,
    stop: async () => {
      proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process's CPU seconds so far (user + system, from /proc; clock ticks of 10 ms), NaN without a pid. */
export function processCpuSeconds(pid) {
  if (!pid) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
