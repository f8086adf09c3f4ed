/**
 * The dashboard in Chromium over Redis Streams: the shared Redis, a stream prefix of its own per bus.
 */
import { createMessageBus } from '@woodwork/bus-redis';
import { describeDashboardInBrowser, id } from './support/scenarios.js';
import { sharedRedisUrl } from './support/servers.js';

const url = await sharedRedisUrl();

describeDashboardInBrowser('redis', () => createMessageBus({ url, streamPrefix: `dash-${id()}`, closeTimeoutMs: 200 }));
