/** Writes every chunk in order, waiting for credit as a producer does, then ends the stream. */
import type { JsonValue } from '@woodwork/bus-core';

export async function writeAll<T extends JsonValue>(writer: { write(chunk: T): Promise<void>; end(): Promise<void> }, chunks: readonly T[]): Promise<void> {
  for (const chunk of chunks) await writer.write(chunk);
  await writer.end();
}
