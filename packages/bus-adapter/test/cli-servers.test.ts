/**
 * `woodwork-bus tail | health | dlq` over each server backend, across processes: the same checks
 * (test/support/cli-over-backend.ts) on Redis and on NATS JetStream, each on the shared server with
 * a prefix of its own. One file, so the bin is built once.
 */
import { describeCliOverBackend } from './support/cli-over-backend.js';

describeCliOverBackend({ backend: 'redis', env: { WOODWORK_REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' } });
describeCliOverBackend({ backend: 'nats', env: { WOODWORK_NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222' } });
