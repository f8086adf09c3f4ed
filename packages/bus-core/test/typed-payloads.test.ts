/**
 * Typed payloads on the contract: `subscribe<P>`, `publish<P>`, `MessageEnvelope<P>`,
 * `MessageHandler<P>`, `EnvelopeInit<P>`. These are type-level tests: `npm run lint` (tsc on this
 * file) fails when a `@ts-expect-error` line stops being an error or an `expectTypeOf` stops
 * holding, so a typed handler that no longer compiles, or a wrong field that starts to, fails the
 * build. The runtime half checks that a declared type changes nothing at run time: the payload is
 * still validated as JSON before anything is sent.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  InvalidMessageError,
  createEnvelope,
  preparePublish,
  type DeliveryContext,
  type EnvelopeInit,
  type JsonObject,
  type JsonValue,
  type MessageBus,
  type MessageEnvelope,
  type MessageHandler,
  type PublishResult,
} from '../src/index.js';

/** An interface, not a type alias: interfaces have no index signature, and must work all the same. */
interface Thought {
  text: string;
  step?: number;
  sources: string[];
}

type Answer = { answer: string; confidence: number | null };

const base = { sessionId: 's-1', eventType: 'agent.thought', componentSource: 'agent' };
const OPTIONS = { maxRetries: 3, maxPayloadBytes: 1024 * 1024 };

/** Only compiled, never called: type-checks calls on a bus without needing a backend. */
function typeChecks(bus: MessageBus): void {
  // A handler written against its event's payload type compiles...
  void bus.subscribe<Thought>('agent.thought', (envelope, context) => {
    const text: string = envelope.payload.text;
    const step: number | undefined = envelope.payload.step;
    const first: string | undefined = envelope.payload.sources[0];
    expectTypeOf(envelope).toEqualTypeOf<MessageEnvelope<Thought>>();
    expectTypeOf(context).toEqualTypeOf<DeliveryContext>();
    void [text, step, first];
  });
  // ... and a wrong field or a wrong type does not.
  void bus.subscribe<Thought>('agent.thought', (envelope) => {
    // @ts-expect-error `txt` is not a field of Thought
    void envelope.payload.txt;
    // @ts-expect-error `text` is a string
    const wrong: number = envelope.payload.text;
    void wrong;
  });
  // The handler's parameter type can carry the payload type too, without a type argument.
  void bus.subscribe('agent.answer', (envelope: MessageEnvelope<Answer>) => {
    expectTypeOf(envelope.payload.confidence).toEqualTypeOf<number | null>();
  });
  const typedHandler: MessageHandler<Answer> = (envelope) => envelope.payload.answer.length;
  void bus.subscribe('agent.answer', typedHandler);

  // Without a type argument a payload is a JsonObject, as before.
  void bus.subscribe('agent.thought', (envelope) => {
    expectTypeOf(envelope.payload).toEqualTypeOf<JsonObject>();
    expectTypeOf(envelope.payload['text']).toEqualTypeOf<JsonValue | undefined>();
  });

  // publish<P>: the payload is checked against P.
  const published: Promise<PublishResult> = bus.publish<Thought>({ ...base, payload: { text: 'hm', sources: [] } });
  void published;
  // @ts-expect-error `txt` is not a field of Thought
  void bus.publish<Thought>({ ...base, payload: { txt: 'hm', sources: [] } });
  // @ts-expect-error `sources` is missing
  void bus.publish<Thought>({ ...base, payload: { text: 'hm' } });
  // @ts-expect-error a P with required fields makes payload required (an empty {} is not a Thought)
  void bus.publish<Thought>({ ...base });
  // An interface-typed value is accepted as it is (no index signature needed), P inferred.
  const thought: Thought = { text: 'hm', sources: ['web'] };
  void bus.publish({ ...base, payload: thought });
  // Untyped publishes are as before: any JSON object, payload optional.
  void bus.publish({ ...base, payload: { anything: [1, 'two', null, { three: true }] } });
  void bus.publish({ ...base });
  // @ts-expect-error a payload must be an object, not a string
  void bus.publish({ ...base, payload: 'text' });

  // A whole envelope keeps its type through createEnvelope.
  const envelope = createEnvelope<Answer>({ ...base, payload: { answer: '42', confidence: 0.5 } });
  expectTypeOf(envelope).toEqualTypeOf<MessageEnvelope<Answer>>();
  void bus.publish(envelope);
  expectTypeOf<EnvelopeInit<Answer>['payload']>().toEqualTypeOf<Answer>();
  expectTypeOf<EnvelopeInit['payload']>().toEqualTypeOf<JsonObject | undefined>();
}

describe('typed payloads', () => {
  it('the type-level checks above are compiled by the lint step (tsc over test/)', () => {
    expect(typeof typeChecks).toBe('function');
  });

  it('a declared payload type changes nothing at run time: the payload is still validated as JSON', () => {
    const notJson = { text: 'hm', sources: [], when: new Date(0) } as unknown as Thought;
    expect(() => preparePublish({ ...base, payload: notJson }, OPTIONS)).toThrow(InvalidMessageError);
    const prepared = preparePublish({ ...base, payload: { text: 'hm', sources: ['web'] } }, OPTIONS);
    expect(prepared.envelope.payload).toEqual({ text: 'hm', sources: ['web'] });
    expect(prepared.payloadJson).toBe('{"text":"hm","sources":["web"]}');
  });
});
