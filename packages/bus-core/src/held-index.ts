/**
 * The lanes' held deliveries by `deliveryId`, each in a box emptied when the delivery leaves.
 * Without the box, the tables V8 leaves behind when a map rehashes (kept until a full collection,
 * their slots taken as roots by every young collection) kept each departed delivery's entry text and
 * envelope alive: at 12,500 Redis messages a second about 3 KB each was promoted to the old
 * generation, 1.6 MB per young collection against 0.8 MB with the boxes (`npm run bench --
 * redis-tail --target sub` under `node --trace-gc-nvp`), and the full collections that followed set
 * the bus's p99.
 */
export class HeldIndex<H> {
  private readonly boxes = new Map<string, { held: H | undefined }>();

  get(id: string): H | undefined {
    return this.boxes.get(id)?.held;
  }

  set(id: string, held: H): void {
    this.boxes.set(id, { held });
  }

  /** The delivery with this id left: its box is emptied, then dropped. */
  forget(id: string | undefined): void {
    if (id === undefined) return;
    const box = this.boxes.get(id);
    if (!box) return;
    box.held = undefined;
    this.boxes.delete(id);
  }

  clear(): void {
    for (const box of this.boxes.values()) box.held = undefined;
    this.boxes.clear();
  }
}
