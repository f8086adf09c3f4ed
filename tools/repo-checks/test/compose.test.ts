/**
 * docker/compose.yml parses and runs Redis 7 with zero-loss persistence and NATS 2.10+ with
 * JetStream, both with healthchecks and the ports the tests and docs use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from './workspace.js';

interface Service {
  image: string;
  command: string[] | string;
  ports: string[];
  volumes: string[];
  healthcheck: { test: string[] | string };
}

const composeFile = join(repoRoot, 'docker', 'compose.yml');
const compose = parse(readFileSync(composeFile, 'utf8'), { uniqueKeys: true, prettyErrors: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

function args(service: Service): string[] {
  return Array.isArray(service.command) ? service.command : service.command.split(/\s+/);
}

function publishedPorts(service: Service): string[] {
  return service.ports.map((p) => String(p).split(':').at(-1)!);
}

describe('docker/compose.yml', () => {
  it('names a redis and a nats service', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['nats', 'redis']);
  });

  it('redis: Redis 7, AOF fsynced on every write, data in a volume, healthcheck, port 6379', () => {
    const redis = compose.services['redis']!;
    expect(redis.image).toMatch(/^redis:7(\.|-|$)/);
    const a = args(redis);
    expect(a[a.indexOf('--appendonly') + 1]).toBe('yes');
    expect(a[a.indexOf('--appendfsync') + 1]).toBe('always');
    expect(redis.volumes.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(JSON.stringify(redis.healthcheck.test)).toContain('ping');
    expect(publishedPorts(redis)).toEqual(['6379']);
  });

  it('nats: 2.10 or later with JetStream on, stored in a volume, synced on every write, healthcheck, ports 4222 and 8222', () => {
    const nats = compose.services['nats']!;
    const version = /^nats:(\d+)\.(\d+)/.exec(nats.image);
    expect(version, nats.image).not.toBeNull();
    expect(Number(version![1]) * 1000 + Number(version![2])).toBeGreaterThanOrEqual(2010);
    const a = args(nats);
    expect(a.includes('-js') || a.includes('--jetstream')).toBe(true);
    const storeDir = a[a.indexOf('-sd') + 1];
    expect(nats.volumes.some((v) => v.endsWith(`:${storeDir}`))).toBe(true);
    const configMount = nats.volumes.find((v) => v.startsWith('./'));
    expect(configMount).toBeDefined();
    const [hostPath, containerPath] = configMount!.split(':');
    expect(a[a.indexOf('-c') + 1]).toBe(containerPath);
    const config = readFileSync(join(repoRoot, 'docker', hostPath!), 'utf8');
    expect(config).toMatch(/^\s*sync_interval:\s*always\s*$/m);
    expect(JSON.stringify(nats.healthcheck.test)).toContain('8222/healthz');
    expect(publishedPorts(nats).sort()).toEqual(['4222', '8222']);
  });

  it('declares the named volumes it uses', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.') || source.startsWith('/')) expect(existsSync(join(repoRoot, 'docker', source))).toBe(true);
        else expect(compose.volumes).toHaveProperty(source);
      }
    }
  });
});
