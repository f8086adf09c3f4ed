export { RoutedMessageBus, type RoutedBusOptions } from './routed-bus.js';
export { ROUTE_PATTERN_RULE, type Route } from './route-table.js';
export { routedRecordId, type RoutedDeadLetterRecord } from './routed-dead-letters.js';
export type { RoutedGroupHealth, RoutedHealthReport } from './routed-health.js';
export { DuplicateRouteError, MemberFailuresError, MemberNotInstalledError, UnknownMemberError, type MemberFailure } from './routed-errors.js';
export { ROUTED_CONFIG_KEYS, ROUTED_TYPE, type RoutedBusConfig, type RoutedRouteConfig } from './routed-config.js';
