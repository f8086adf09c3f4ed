/**
 * Reading a stream to its end in a test: `collect` wants it to end well, `drain` also keeps the
 * error it failed with (and the chunks that came before).
 */
import type { JsonValue } from '@woodwork/bus-core';

export async function collect(reader: AsyncIterable<JsonValue>): Promise<JsonValue[]> {
  const out: JsonValue[] = [];
  for await (const chunk of reader) out.push(chunk);
  return out;
}

export async function drain(reader: AsyncIterable<JsonValue>): Promise<{ chunks: JsonValue[]; error?: unknown }> {
  const chunks: JsonValue[] = [];
  try {
    for await (const chunk of reader) chunks.push(chunk);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}
