/**
 * A `redis-server` of the test's own (free port, no persistence), for tests that stop it: the
 * shared server on 6379 is never touched. Stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

const BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // A server with requirepass answers NOAUTH: it is up all the same.
    socket.once('data', (chunk) => done(/^(\+PONG|-NOAUTH)/.test(chunk.toString())));
    socket.once('error', () => done(false));
  });
}

export class OwnRedis {
  private constructor(
    readonly port: number,
    private readonly process: ChildProcess,
  ) {}

  /** `args`: extra server arguments (`--requirepass`, `--tls-port`...). */
  static async start(args: readonly string[] = []): Promise<OwnRedis> {
    const binary = process.env['REDIS_SERVER_BIN'] ?? BINARIES.find((b) => existsSync(b));
    if (!binary) throw new Error('redis-server not found: install it (apt-get install redis-server) or set REDIS_SERVER_BIN');
    const port = await freePort();
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (!(await answers(port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port} within 20 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return new OwnRedis(port, proc);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Stops the server (SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.process;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  }
}
