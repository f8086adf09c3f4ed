/**
 * The NATS backend as the fault runner sees it: a `nats-server` of its own per scenario (own port,
 * own store folder under the OS tmpdir, stopped by PID), stored copies counted from the events
 * stream, and an undecodable message written straight to a group's subject. Consumer processes
 * (consumer-killed) import nats-child.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { BusHarness, OwnServer } from '@woodwork/bus-conformance/harness';
import { NatsMessageBus, layoutFor, messageSubject } from '@woodwork/bus-nats';

function binary(): string {
  const found = process.env['NATS_SERVER_BIN'] ?? ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((b) => existsSync(b));
  if (!found) throw new Error('nats-server not found: install it or set NATS_SERVER_BIN');
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

async function ownServer(): Promise<OwnServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ww-faults-nats-'));
  let proc: ChildProcess | undefined;
  const start = async (options: { wipe?: boolean } = {}): Promise<void> => {
    if (options.wipe) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    proc = spawn(binary(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    for (let i = 0; !(await portOpen(port)); i++) {
      if (proc.exitCode !== null || i > 800) throw new Error(`nats-server did not start on ${port}`);
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
    busOptions: { url: `nats://127.0.0.1:${port}` },
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

async function withJetStream<T>(busOptions: Record<string, unknown>, run: (nc: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: String(busOptions['url']) });
  try {
    return await run(nc);
  } finally {
    await nc.close();
  }
}

export const natsHarness: BusHarness = {
  name: 'nats',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  childBusModule: fileURLToPath(new URL('./nats-child.js', import.meta.url)),
  makeBus: (options) => NatsMessageBus.connect(options),
  ownServer,
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
  faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'poison-message', 'hot-session'],
  async countStoredCopies(busOptions) {
    return withJetStream(busOptions, async (nc) => {
      const jsm = await jetstreamManager(nc);
      const stream = layoutFor(String(busOptions['streamPrefix'])).eventsStream;
      const { first_seq: first, last_seq: last } = (await jsm.streams.info(stream)).state;
      const copies = new Map<string, number>();
      for (let seq = first; seq <= last && last > 0; seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (!msg) continue;
        try {
          const id = (JSON.parse(msg.string()) as { message_id?: unknown }).message_id;
          if (typeof id === 'string') copies.set(id, (copies.get(id) ?? 0) + 1);
        } catch {
          // An undecodable entry (poison-message) has no id to count.
        }
      }
      return copies;
    });
  },
  async writeUndecodable(busOptions, eventType) {
    await withJetStream(busOptions, async (nc) => {
      const layout = layoutFor(String(busOptions['streamPrefix']));
      await jetstream(nc).publish(messageSubject(layout, 'poison', null, eventType), '{not json');
    });
  },
};
