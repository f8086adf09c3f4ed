/**
 * A local 3-node JetStream cluster for the distributed tests: three `nats-server` processes with
 * routes between them, on free ports, each with its own store folder, stopped by PID. Never the
 * shared server.
 */
import { OwnNatsServer, freePort } from './nats-server.js';

export class NatsCluster {
  private constructor(
    readonly nodes: OwnNatsServer[],
    readonly names: string[],
  ) {}

  static async start(size = 3): Promise<NatsCluster> {
    const clientPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
    const clusterName = `ww-${process.pid}-${Date.now().toString(36)}`;
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    const names = clientPorts.map((_, i) => `n${i}-${clusterName}`);
    const nodes = await Promise.all(
      clientPorts.map((port, i) =>
        OwnNatsServer.start({
          port,
          args: ['--server_name', names[i]!, '--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes],
        }),
      ),
    );
    return new NatsCluster(nodes, names);
  }

  /** Every node's client URL, comma-separated (the bus's `url`). */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  /** The node whose server name is `name`. */
  node(name: string): OwnNatsServer {
    const index = this.names.indexOf(name);
    if (index < 0) throw new Error(`no node named ${name}`);
    return this.nodes[index]!;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
  }
}
