/**
 * NATS servers for the tests. `sharedNatsUrl()` finds the shared server (NATS_URL, else
 * 127.0.0.1:4222, else a testcontainers NATS where Docker exists) or fails saying how to start one.
 * `OwnNatsServer` runs a `nats-server` of the test's own (free port, own store folder under the OS
 * tmpdir), for tests that restart, pause or kill it; it is stopped by PID, never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownServerOf } from '@woodwork/bus-conformance';

const BINARIES = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

export function natsServerBinary(): string {
  const found = process.env['NATS_SERVER_BIN'] ?? BINARIES.find((b) => existsSync(b));
  if (!found) throw new Error('nats-server not found: install it (apt-get install nats-server) or set NATS_SERVER_BIN');
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

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

let shared: Promise<string> | undefined;

export function sharedNatsUrl(): Promise<string> {
  shared ??= findShared();
  return shared;
}

async function findShared(): Promise<string> {
  if (process.env['NATS_URL']) return process.env['NATS_URL'];
  if (await portOpen('127.0.0.1', 4222)) return 'nats://127.0.0.1:4222';
  try {
    const { GenericContainer } = (await import(/* @vite-ignore */ 'testcontainers' as string)) as {
      GenericContainer: new (image: string) => {
        withCommand(c: string[]): { withExposedPorts(p: number): { start(): Promise<{ getHost(): string; getMappedPort(p: number): number }> } };
      };
    };
    const container = await new GenericContainer('nats:2.10').withCommand(['-js']).withExposedPorts(4222).start();
    return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  } catch (error) {
    throw new Error(
      `no NATS server: set NATS_URL, or start one on 127.0.0.1:4222 (\`nats-server -js\` or \`docker compose -f docker/compose.yml up -d nats\`); testcontainers failed too (${String(error)})`,
    );
  }
}

export interface OwnServerOptions {
  /** Extra command-line arguments (cluster routes...). */
  args?: string[];
  port?: number;
  storeDir?: string;
}

export class OwnNatsServer {
  process: ChildProcess | undefined;
  readonly storeDir: string;
  private readonly ownsStore: boolean;

  private constructor(
    readonly port: number,
    storeDir: string | undefined,
    private readonly args: string[],
  ) {
    this.ownsStore = storeDir === undefined;
    this.storeDir = storeDir ?? mkdtempSync(join(tmpdir(), 'ww-nats-'));
  }

  /**
   * Starts a server on `options.port`, or on a free port. A free port can be taken by another process
   * between the check and nats-server's bind: on "address already in use" it tries again on another
   * free port, up to 5 times.
   */
  static async start(options: OwnServerOptions = {}): Promise<OwnNatsServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new OwnNatsServer(options.port ?? (await freePort()), options.storeDir, options.args ?? []);
      try {
        await server.startProcess();
        return server;
      } catch (error) {
        if (server.ownsStore) rmSync(server.storeDir, { recursive: true, force: true });
        if (options.port !== undefined || attempt >= 5 || !/address already in use/i.test(String((error as Error).message))) throw error;
      }
    }
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Deletes the store folder (a restart with the data gone); only while stopped. */
  wipe(): void {
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  async startProcess(): Promise<void> {
    mkdirSync(this.storeDir, { recursive: true });
    const proc = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.process = proc;
    const deadline = Date.now() + 20_000;
    while (!(await portOpen('127.0.0.1', this.port))) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited (${proc.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${this.port} within 20 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the process (SIGTERM, or `signal`) and waits for it to exit. */
  async stopProcess(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.process;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stopProcess(signal);
    await this.startProcess();
  }

  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.stopProcess();
    if (this.ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** The conformance harness's `ownServer()`: a fresh server of the test's own, with the suite's controls. */
export async function ownServerControls() {
  return ownServerOf(await OwnNatsServer.start());
}
