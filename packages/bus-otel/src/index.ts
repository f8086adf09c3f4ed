export { instrumentBus, INSTRUMENTATION_NAME } from './instrumented-bus.js';
export type { InstrumentBusOptions } from './options.js';
export { Attr, Instruments, Outcome } from './semconv.js';
export { metadataGetter } from './metadata-carrier.js';
export { groupAttributes, groupKind, type GroupKind, type GroupShape } from './group-attributes.js';
