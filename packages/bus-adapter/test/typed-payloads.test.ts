/**
 * Typed payloads on `MessageBusAdapter`: `emitEvent<P>`, `sendToComponent<P>`, `registerHook<P>`,
 * `registerComponentListener<P>`, `AdapterHandler<P>`. The `@ts-expect-error` lines and
 * `expectTypeOf` calls are checked by the lint step (tsc over test/): a typed hook that stops
 * compiling, or a wrong field that starts to, fails the build. At run time the same calls go over
 * a real memory bus, and a payload that is not JSON is still refused whatever its declared type.
 */
import { InvalidMessageError, type DeliveryContext, type JsonObject, type MessageEnvelope } from '@woodwork/bus-core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AdapterHandler, MessageBusAdapter } from '../src/index.js';
import { adapterPerTest } from './support/adapter-per-test.js';
import { eventually } from './support/memory.js';

interface Thought {
  text: string;
  step: number;
}

interface Question {
  question: string;
}

let adapter: MessageBusAdapter;
const setup = adapterPerTest((made) => ({ adapter } = made));
const from = { sessionId: 's1', componentSource: 'agent' };

describe('typed adapter calls', () => {
  it('a typed hook gets its payload type, and a typed emit delivers it', async () => {
    setup();
    const texts: string[] = [];
    await adapter.registerHook<Thought>('agent.thought', (thought, envelope, context) => {
      expectTypeOf(thought).toEqualTypeOf<Thought>();
      expectTypeOf(envelope).toEqualTypeOf<MessageEnvelope<Thought>>();
      expectTypeOf(context).toEqualTypeOf<DeliveryContext>();
      const text: string = thought.text;
      // @ts-expect-error `txt` is not a field of Thought
      void thought.txt;
      // @ts-expect-error `step` is a number
      const step: string = thought.step;
      void step;
      texts.push(`${text} (${envelope.payload.step})`);
    });
    await adapter.emitEvent<Thought>({ ...from, eventType: 'agent.thought', payload: { text: 'searching', step: 1 } });
    await eventually(() => expect(texts).toEqual(['searching (1)']));
  });

  it('a typed component listener and sendToComponent', async () => {
    setup();
    const questions: string[] = [];
    const listener: AdapterHandler<Question> = (payload) => {
      questions.push(payload.question.toUpperCase());
    };
    await adapter.registerComponentListener<Question>('agent', listener);
    await adapter.sendToComponent<Question>('agent', { ...from, componentSource: 'input', eventType: 'input.question', payload: { question: 'why?' } });
    await eventually(() => expect(questions).toEqual(['WHY?']));
  });

  it('untyped calls are unchanged: the payload is a JsonObject', async () => {
    setup();
    const seen: JsonObject[] = [];
    await adapter.registerHook('agent.thought', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<JsonObject>();
      seen.push(payload);
    });
    await adapter.emitEvent({ ...from, eventType: 'agent.thought', payload: { anything: [1, null] } });
    await eventually(() => expect(seen).toEqual([{ anything: [1, null] }]));
  });

  it('wrong payloads do not compile; a non-JSON one forced past the compiler is still refused at run time', async () => {
    setup();
    const wrongField = (): Promise<unknown> =>
      // @ts-expect-error `txt` is not a field of Thought
      adapter.emitEvent<Thought>({ ...from, eventType: 'agent.thought', payload: { txt: 'x', step: 1 } });
    const missingField = (): Promise<unknown> =>
      // @ts-expect-error `step` is missing
      adapter.emitEvent<Thought>({ ...from, eventType: 'agent.thought', payload: { text: 'x' } });
    const wrongTarget = (): Promise<unknown> =>
      // @ts-expect-error `question` must be a string
      adapter.sendToComponent<Question>('agent', { ...from, eventType: 'input.question', payload: { question: 42 } });
    void [wrongField, missingField, wrongTarget];
    const forced = { text: 'x', step: 1, at: new Date(0) } as unknown as Thought;
    await expect(adapter.emitEvent<Thought>({ ...from, eventType: 'agent.thought', payload: forced })).rejects.toBeInstanceOf(InvalidMessageError);
  });
});
