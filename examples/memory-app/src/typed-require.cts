// TypeScript in CommonJS mode (module nodenext, TypeScript 5.8+) type-checks require() of these ES
// modules, typed payloads included. Type-checked only (npm run typecheck:cjs).
import adapterModule = require('@woodwork/bus-adapter');

interface Ping {
  at: number;
}

async function ping(): Promise<string> {
  const bus = await adapterModule.MessageBusFactory.createMessageBus({ type: 'memory' });
  const adapter = new adapterModule.MessageBusAdapter(bus);
  await adapter.registerHook<Ping>('app.ping', (payload) => {
    const at: number = payload.at;
    void at;
  });
  await adapter.close();
  return bus.backend;
}

void ping;
