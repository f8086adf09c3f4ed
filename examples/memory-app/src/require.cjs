// The same packages from CommonJS: require() of ES modules works on Node >= 20.19.
'use strict';
const { MessageBusFactory } = require('@woodwork/bus-adapter');
const { InvalidConfigError } = require('@woodwork/bus-core');

// The shipped config files are exported too, for tools that resolve package files themselves.
const devConfig = require.resolve('@woodwork/bus-adapter/config/message_bus_dev.yml');
console.log(`cjs config: ${require('node:path').basename(devConfig)}`);

MessageBusFactory.createMessageBus({ type: 'memory' }).then(async (bus) => {
  console.log(`cjs backend: ${bus.backend}`);
  await bus.close();
  try {
    await MessageBusFactory.createMessageBus({ type: 'memory', max_queue_size: 0 });
  } catch (error) {
    console.log(`cjs refused: ${error instanceof InvalidConfigError ? error.key : String(error)}`);
  }
});
