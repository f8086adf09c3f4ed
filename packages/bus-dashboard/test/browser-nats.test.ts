/**
 * The dashboard in Chromium over NATS JetStream: the shared NATS, a stream prefix of its own per bus.
 */
import { createMessageBus } from '@woodwork/bus-nats';
import { describeDashboardInBrowser, id } from './support/scenarios.js';
import { sharedNatsUrl } from './support/servers.js';

const url = await sharedNatsUrl();

describeDashboardInBrowser('nats', () => createMessageBus({ url, streamPrefix: `dash-${id()}`, closeTimeoutMs: 200 }));
