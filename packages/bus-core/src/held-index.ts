import { DictionaryTable } from './dictionary-table.js';

/**
 * The lanes' held deliveries by `deliveryId`: a key set and deleted per delivery, so a
 * `DictionaryTable`, not a `Map` (dictionary-table.ts: a `Map`'s replaced tables made every young
 * collection promote the deliveries held at that moment, and the full collections that followed set
 * the bus's p99).
 */
export class HeldIndex<H> {
  private readonly byId = new DictionaryTable<H>();

  get(id: string): H | undefined {
    return this.byId.get(id);
  }

  set(id: string, held: H): void {
    this.byId.set(id, held);
  }

  /** The delivery with this id left. */
  forget(id: string | undefined): void {
    if (id !== undefined) this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }
}
