/**
 * The NATS backend as the fault runner sees it: a `nats-server` of its own per scenario (own port,
 * own store folder under the OS tmpdir, stopped by PID), stored copies counted from the events
 * stream, and an undecodable message written straight to a group's subject. Consumer processes
 * (consumer-killed) import nats-child.ts. `leader-killed` runs on a 3-node cluster of its own
 * (three nats-servers with routes, free ports, own folders, stopped by PID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { BusHarness, OwnCluster, OwnServer } from '@woodwork/bus-conformance/harness';
import { NatsMessageBus, layoutFor, messageSubject } from '@woodwork/bus-nats';
import { findBinary, freePort, startServerProcess } from './server-process.js';

const binary = (): string => findBinary('NATS_SERVER_BIN', ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'], 'nats-server');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

function ownServer(): Promise<OwnServer> {
  return startServerProcess({
    name: 'nats',
    binary: binary(),
    args: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    answers: portOpen,
    busOptions: (port) => ({ url: `nats://127.0.0.1:${port}` }),
  });
}

/** One node of an own cluster: its process, restartable on the same port and folder. */
interface ClusterNode {
  name: string;
  port: number;
  dir: string;
  args: string[];
  proc?: ChildProcess;
}

async function startNode(node: ClusterNode): Promise<void> {
  mkdirSync(node.dir, { recursive: true });
  const proc = spawn(binary(), ['-a', '127.0.0.1', '-p', String(node.port), '-js', '-sd', node.dir, ...node.args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-2_000)));
  node.proc = proc;
  for (let i = 0; !(await portOpen(node.port)); i++) {
    if (proc.exitCode !== null || i > 800) throw new Error(`nats-server ${node.name} did not start on ${node.port}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function killNode(node: ClusterNode): Promise<void> {
  const p = node.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGKILL');
  await exited;
}

/**
 * Three nats-servers with routes on free ports, own folders; streams of buses on it get 3 replicas.
 * A port found free can be taken before its server binds it: the whole cluster then starts again
 * on other ports (up to 3 times).
 */
async function ownCluster(): Promise<OwnCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

async function startCluster(): Promise<OwnCluster> {
  const clusterName = `ww-faults-${process.pid}-${Date.now().toString(36)}`;
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const routePorts = [await freePort(), await freePort(), await freePort()];
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes: ClusterNode[] = clientPorts.map((port, i) => ({
    name: `n${i}-${clusterName}`,
    port,
    dir: mkdtempSync(join(tmpdir(), 'ww-faults-cluster-')),
    args: ['--server_name', `n${i}-${clusterName}`, '--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes],
  }));
  try {
    await Promise.all(nodes.map((n) => startNode(n)));
  } catch (error) {
    await Promise.all(nodes.map((n) => killNode(n)));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    throw error;
  }
  const url = clientPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const killed: ClusterNode[] = [];
  const leaderOf = async (nc: Awaited<ReturnType<typeof connect>>, stream: string): Promise<string> => {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    return (await jsm.streams.info(stream).catch(() => undefined))?.cluster?.leader ?? '';
  };
  return {
    busOptions: { url, replicas: 3 },
    async killLeader(busOptions) {
      const stream = layoutFor(String(busOptions['streamPrefix'])).eventsStream;
      const nc = await connect({ servers: url.split(','), reconnect: true, maxReconnectAttempts: -1 });
      try {
        let leader = '';
        for (let i = 0; !(leader = await leaderOf(nc, stream)); i++) {
          if (i > 600) throw new Error(`no leader for ${stream}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const node = nodes.find((n) => n.name === leader);
        if (!node) throw new Error(`the leader ${leader} is not a node of this cluster`);
        await killNode(node);
        killed.push(node);
        // Waits out the election: another node leads the stream.
        for (let i = 0; ; i++) {
          const now = await leaderOf(nc, stream).catch(() => '');
          if (now && now !== leader) break;
          if (i > 600) throw new Error(`no new leader for ${stream} within 60 s of killing ${leader}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        return leader;
      } finally {
        await nc.close().catch(() => undefined);
      }
    },
    async restartKilled() {
      for (const node of killed.splice(0)) await startNode(node);
    },
    async dispose() {
      await Promise.all(nodes.map((n) => killNode(n)));
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    },
  };
}

async function withJetStream<T>(busOptions: Record<string, unknown>, run: (nc: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: String(busOptions['url']).split(',') });
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
  ownCluster,
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
  faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'poison-message', 'hot-session', 'leader-killed'],
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
