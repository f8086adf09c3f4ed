/**
 * An agent answering one question over the woodwork bus on Redis Streams. The bus comes from the
 * environment, as in a deployment (WOODWORK_MESSAGE_BUS=redis, WOODWORK_REDIS_URL,
 * WOODWORK_STREAM_PREFIX); the adapter imports @woodwork/bus-redis by name. Components talk through
 * `MessageBusAdapter` with typed payloads; at the end the app deletes its session and closes.
 */
import { MessageBusAdapter, MessageBusFactory } from '@woodwork/bus-adapter';

interface Question {
  question: string;
}

interface Answer {
  question: string;
  answer: string;
}

// A missing backend package is a BackendNotInstalledError saying what to install.
const bus = await MessageBusFactory.createFromEnvironment();
const adapter = new MessageBusAdapter(bus);
console.log(`backend: ${bus.backend}`);

const sessionId = `session-${process.pid}`;
const answered = new Promise<Answer>((resolve) => {
  void adapter.registerHook<Answer>('agent.answered', (answer) => resolve(answer), { sessionId });
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
  sessionId,
  componentSource: 'input',
});

const answer = await answered;
console.log(`answer: ${answer.answer} (to "${answer.question}")`);

const health = await bus.healthCheck();
console.log(`health: ${health.status}`);
await bus.deleteSessionQueue(sessionId);
await adapter.close();
console.log('closed');
