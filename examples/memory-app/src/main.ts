/**
 * An agent answering one question over the woodwork bus, on the in-memory backend: the bus comes
 * from the adapter's shipped `dev` config, components talk through `MessageBusAdapter` with typed
 * payloads, and a bad publish is refused with core's typed error.
 */
import { MessageBusAdapter, MessageBusFactory, loadShippedConfig } from '@woodwork/bus-adapter';
import { InvalidMessageError } from '@woodwork/bus-core';

interface Question {
  question: string;
}

interface Answer {
  question: string;
  answer: string;
}

const config = await loadShippedConfig('dev');
const bus = await MessageBusFactory.createMessageBus(config);
const adapter = new MessageBusAdapter(bus);
console.log(`backend: ${bus.backend} (config ${config.type}, max_queue_size ${String(config.config.max_queue_size)})`);

const answered = new Promise<Answer>((resolve) => {
  void adapter.registerHook<Answer>('agent.answered', (answer) => resolve(answer));
});

// The agent: gets questions sent to it, answers with an event every hook sees.
await adapter.registerComponentListener<Question>('agent', async (question, envelope) => {
  await adapter.emitEvent<Answer>({
    eventType: 'agent.answered',
    payload: { question: question.question, answer: `${question.question.length} characters, well asked` },
    sessionId: envelope.sessionId,
    componentSource: 'agent',
  });
});

await adapter.sendToComponent<Question>('agent', {
  eventType: 'input.question',
  payload: { question: 'How tall is the Eiffel Tower?' },
  sessionId: 'session-1',
  componentSource: 'input',
});

const answer = await answered;
console.log(`answer: ${answer.answer} (to "${answer.question}")`);

try {
  await adapter.emitEvent({ eventType: 'agent.answered', payload: {}, sessionId: 'not a session id', componentSource: 'agent' });
} catch (error) {
  if (!(error instanceof InvalidMessageError)) throw error;
  console.log(`refused: ${error.field} (${error.code})`);
}

const health = await bus.healthCheck();
console.log(`health: ${health.status}, published ${health.metrics.messagesPublishedTotal}`);
await adapter.close();
console.log('closed');
