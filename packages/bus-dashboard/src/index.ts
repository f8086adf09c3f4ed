/**
 * @woodwork/bus-dashboard: a small web dashboard over any woodwork `MessageBus` (overview, dead
 * letters, live tail), served by `node:http` with plain HTML, CSS and JavaScript.
 */
export { startDashboard, DashboardListenError, type Dashboard } from './dashboard-server.js';
export { DEFAULT_PORT, type DashboardOptions } from './options.js';
export type { DeadLetterPage, DeadLetterRow, DeadLetterQuery } from './dead-letter-query.js';
export type { Overview } from './overview.js';
export type { TailMessage, TailFilter } from './live-tail.js';
