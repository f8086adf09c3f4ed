/**
 * Redis servers for the tests. `sharedRedisUrl()` finds the shared server (REDIS_URL, else
 * 127.0.0.1:6379, else a testcontainers Redis where Docker exists) or fails saying how to start
 * one. `OwnRedisServer` runs a `redis-server` of the test's own (free port, own folder under the
 * OS tmpdir, AOF on), for tests that kill, pause or restart it; it is stopped by PID, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownServerOf } from '@woodwork/bus-conformance';

const BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'];

export function redisServerBinary(): string {
  const found = process.env['REDIS_SERVER_BIN'] ?? BINARIES.find((b) => existsSync(b));
  if (!found) throw new Error('redis-server not found: install it (apt-get install redis-server) or set REDIS_SERVER_BIN');
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A free port; a cluster node's also leaves room for its bus port (port + 10000 <= 65535). */
async function portFor(args: readonly string[]): Promise<number> {
  const cluster = args.includes('--cluster-enabled');
  for (;;) {
    const port = await freePort();
    if (!cluster || port + 10_000 <= 65_535) return port;
  }
}

/** True when a Redis answers PING on host:port. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // A server with requirepass answers NOAUTH: it is up all the same.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => done(false));
  });
}

let shared: Promise<string> | undefined;

export function sharedRedisUrl(): Promise<string> {
  shared ??= findShared();
  return shared;
}

async function findShared(): Promise<string> {
  if (process.env['REDIS_URL']) return process.env['REDIS_URL'];
  if (await redisAnswers('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  try {
    const { GenericContainer } = (await import(/* @vite-ignore */ 'testcontainers' as string)) as {
      GenericContainer: new (image: string) => { withExposedPorts(p: number): { start(): Promise<{ getHost(): string; getMappedPort(p: number): number }> } };
    };
    const container = await new GenericContainer('redis:7').withExposedPorts(6379).start();
    return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  } catch (error) {
    throw new Error(
      `no Redis server: set REDIS_URL, or start one on 127.0.0.1:6379 (\`redis-server\` or \`docker compose -f docker/compose.yml up -d redis\`); testcontainers failed too (${String(error)})`,
    );
  }
}

export interface OwnRedisOptions {
  port?: number;
  dir?: string;
  /** Extra arguments (`--cluster-enabled yes`, `--replicaof ...`, `--appendfsync always`...). */
  args?: string[];
  /** Run as a sentinel: writes its config file in the folder and returns its path. */
  sentinelConfig?: (dir: string) => string;
}

export class OwnRedisServer {
  process: ChildProcess | undefined;
  readonly dir: string;
  private readonly ownsDir: boolean;

  private sentinelFile: string | undefined;

  private constructor(
    readonly port: number,
    dir: string | undefined,
    private readonly args: string[],
    private readonly sentinelConfig?: (dir: string) => string,
  ) {
    this.ownsDir = dir === undefined;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'ww-redis-'));
  }

  /**
   * Starts a server on `options.port`, or on a free port. A free port can be taken by another process
   * between the check and redis-server's bind (and a cluster node also binds port + 10000): on
   * "Address already in use" it tries again on another free port, up to 5 times.
   */
  static async start(options: OwnRedisOptions = {}): Promise<OwnRedisServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new OwnRedisServer(options.port ?? (await portFor(options.args ?? [])), options.dir, options.args ?? [], options.sentinelConfig);
      try {
        await server.startProcess();
        return server;
      } catch (error) {
        if (server.ownsDir) rmSync(server.dir, { recursive: true, force: true });
        if (options.port !== undefined || attempt >= 5 || !String((error as Error).message).includes('Address already in use')) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Deletes the data folder (a restart with the data gone); only while stopped. */
  wipe(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  async startProcess(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.sentinelConfig) this.sentinelFile ??= this.sentinelConfig(this.dir);
    const args = this.sentinelFile ? [this.sentinelFile, '--sentinel'] : ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', ...this.args];
    const proc = spawn(redisServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.process = proc;
    const deadline = Date.now() + 20_000;
    while (!(await redisAnswers('127.0.0.1', this.port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.port} within 20 s: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the process (SIGTERM, or `signal`) and waits for it to exit. */
  async stopProcess(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The conformance harness's `ownServer()`: a fresh server of the test's own, with the suite's controls. */
export async function ownServerControls() {
  return ownServerOf(await OwnRedisServer.start());
}
