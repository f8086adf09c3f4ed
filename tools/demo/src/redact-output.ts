/**
 * The demo prints events, payloads, errors and a summary; none of it may carry a password or token
 * the bus was given. Every write to stdout and stderr passes core's `redactKnownSecrets` with the
 * environment's secrets (`environmentSecrets`: WOODWORK_REDIS_PASSWORD, the password in
 * WOODWORK_REDIS_URL...) and, once it is read, the config file's (`busConfigSecrets`).
 */
import { redactKnownSecrets } from '@woodwork/bus-core';
import { busConfigSecrets, environmentSecrets, resolveBusConfig, type BusConfig } from '@woodwork/bus-adapter';

type Write = typeof process.stdout.write;

/** Redacts everything this process writes from now on; returns the list, to which more secrets can be added. */
export function redactProcessOutput(env: NodeJS.ProcessEnv): string[] {
  const secrets = environmentSecrets(env);
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' || Buffer.isBuffer(chunk) ? redactKnownSecrets(chunk.toString(), secrets) : chunk, ...rest)) as Write;
  }
  return secrets;
}

/** The secrets of the bus config the demo runs on (a config file may hold them literally). */
export function configSecrets(config: BusConfig): string[] {
  try {
    return busConfigSecrets(resolveBusConfig(config));
  } catch {
    return []; // an invalid config fails later, with its own error
  }
}
