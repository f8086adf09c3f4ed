/**
 * Payload and metadata to JSON text through one iterative checking pass, so what is validated is
 * exactly what is sent:
 * - every property is read once (a getter that answers differently on a second read, or a Proxy,
 *   cannot put one value through the checks and another on the wire);
 * - `toJSON` is never called (a non-enumerable `toJSON` cannot replace the payload after the checks);
 * - no recursion: nesting is bounded by `MAX_JSON_DEPTH` and reported as an `InvalidMessageError`
 *   naming the path, never a `RangeError` from the call stack, on publish and on decode alike.
 * The text equals `JSON.stringify` of the same plain data (same key order, same number and string
 * forms), so a Python reader and a TypeScript one see the same object.
 */
import { InvalidMessageError } from './errors.js';
import { describeValue } from './describe-value.js';
import type { JsonObject } from './envelope.js';

/**
 * Deepest nesting of objects and arrays in a payload or metadata object, the object itself being
 * level 1. 256 keeps the wire form (one level more) readable by Python's `json` and by every
 * recursive JSON reader of a backend's tooling.
 */
export const MAX_JSON_DEPTH = 256;

interface Frame {
  readonly source: object;
  /** The plain copy being filled: what is finally stringified. */
  readonly copy: Record<string, unknown> | unknown[];
  /** Keys of an object, or undefined for an array. */
  readonly keys: readonly string[] | undefined;
  readonly length: number;
  /** Next index into `keys` / the array. */
  index: number;
  /** How this container was reached from its parent: a key or an index (undefined for the root). */
  readonly step: string | number | undefined;
}

/**
 * The JSON text of a plain JSON object (plain or null-prototype objects, arrays, strings, finite
 * numbers, booleans, null) nested at most `maxDepth` levels. Anything else is an
 * `InvalidMessageError` whose `field` is the path of the bad value (`payload.items[3].name`).
 *
 * One iterative walk reads every property once and builds a plain copy of what it read; the text
 * is the native `JSON.stringify` of that copy, which holds only data it made itself (no getters, no
 * callable `toJSON`, depth already bounded), so it cannot differ from what was checked. Measured
 * here: about as fast as the former recursive check followed by `JSON.stringify` of the original.
 */
export function encodeJsonObject(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): string {
  return encodeJsonCopy(value, field, maxDepth).json;
}

/** A checked JSON object: its text, and the plain copy the text was made from. */
export interface EncodedJson {
  readonly json: string;
  /**
   * Fresh plain objects and arrays (strings shared) that no one else holds, equal to
   * `JSON.parse(json)` (same keys in the same order, `-0` read as `0`, own `__proto__` keys kept as
   * keys). A backend without a wire may give it to one reader instead of decoding the text again.
   */
  readonly copy: JsonObject;
}

/**
 * Up to this many containers deep the walk finds a cycle by looking along its stack (what is open is
 * exactly what the stack holds); deeper, it keeps a set of them. Most payloads are a level or two
 * deep: a set per call was a good part of the cost of a small publish (issue 11).
 */
const OPEN_SCAN_DEPTH = 8;

/** `encodeJsonObject`, also returning the plain copy the text was made from. */
export function encodeJsonCopy(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): EncodedJson {
  const walk: Walk = { field, maxDepth, stack: [], open: undefined, bytes: -1 };
  const root = copyChecked(walk, value);
  return { json: JSON.stringify(root), copy: root };
}

/** A checked JSON object's plain copy and the UTF-8 size of its JSON text, made without the text. */
export interface MeasuredJson {
  /** `Buffer.byteLength(JSON.stringify(copy))`, counted during the walk. */
  readonly bytes: number;
  /** As `EncodedJson.copy`. */
  readonly copy: JsonObject;
}

/**
 * `encodeJsonCopy` for a backend that sends no text (memory): the same checks and the same copy,
 * and the size of the text instead of the text. The text of a 1 KiB payload was garbage made per
 * publish only to be measured (issue 11). Exact: a string of printable ASCII without `"` or `\` is
 * its length plus two quotes; any other string is measured by encoding it alone.
 */
export function measureJsonCopy(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): MeasuredJson {
  const walk: Walk = { field, maxDepth, stack: [], open: undefined, bytes: 0 };
  const copy = copyChecked(walk, value);
  return { bytes: walk.bytes, copy };
}

/** Printable ASCII other than `"` and `\`: what JSON writes as it is, one byte a character. */
const PLAIN_JSON_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** UTF-8 bytes of `JSON.stringify(text)`. */
function jsonStringBytes(text: string): number {
  return PLAIN_JSON_STRING.test(text) ? text.length + 2 : Buffer.byteLength(JSON.stringify(text));
}

/** UTF-8 bytes of `JSON.stringify(value)` for a value the walk accepted that is not a container. */
function jsonScalarBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return jsonStringBytes(value);
    case 'number':
      return JSON.stringify(value).length;
    case 'boolean':
      return value ? 4 : 5;
    default:
      return 4; // null
  }
}

/** The checking walk: the plain copy of `value`; with `walk.bytes` >= 0 it also counts the text's size. */
function copyChecked(walk: Walk, value: unknown): JsonObject {
  if (!isPlainObject(value)) {
    throw new InvalidMessageError(walk.field, `must be a plain JSON object; got ${describeValue(value)}`);
  }
  const measuring = walk.bytes >= 0;
  const root = enterContainer(walk, value, undefined);
  const stack = walk.stack;
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.index >= frame.length) {
      walk.open?.delete(frame.source);
      stack.pop();
      continue;
    }
    const i = frame.index++;
    const step = frame.keys === undefined ? i : frame.keys[i]!;
    // A comma before every item but the first; an object's key and its colon.
    if (measuring) walk.bytes += (i > 0 ? 1 : 0) + (frame.keys === undefined ? 0 : jsonStringBytes(step as string) + 1);
    const item: unknown = (frame.source as Record<string | number, unknown>)[step];
    let copied: unknown;
    switch (typeof item) {
      case 'string':
      case 'boolean':
        copied = item;
        break;
      case 'number':
        if (!Number.isFinite(item)) failAt(walk, step, `must be JSON-serialisable; ${item} is not a finite number`);
        // -0 is written "0": the copy holds what a reader of the text gets.
        copied = item === 0 ? 0 : item;
        break;
      case 'object':
        if (item === null) copied = null;
        else if (Array.isArray(item) || isPlainObject(item)) copied = enterContainer(walk, item, step);
        else failAt(walk, step, `must be JSON-serialisable; got ${describeValue(item)}`);
        break;
      default:
        failAt(walk, step, `must be JSON-serialisable; got ${describeValue(item)}`);
    }
    if (measuring && (typeof copied !== 'object' || copied === null)) walk.bytes += jsonScalarBytes(copied);
    if (step === '__proto__') {
      // An own "__proto__" key (JSON.parse makes them) stays a key, never a prototype.
      Object.defineProperty(frame.copy, step, { value: copied, enumerable: true, writable: true, configurable: true });
    } else {
      (frame.copy as Record<string | number, unknown>)[step] = copied;
    }
  }
  return root as JsonObject;
}

/** The state of one `encodeJsonCopy` walk (functions of the module, not closures made per call). */
interface Walk {
  readonly field: string;
  readonly maxDepth: number;
  readonly stack: Frame[];
  /** The sources on the stack, kept only once it is deeper than `OPEN_SCAN_DEPTH`. */
  open: Set<object> | undefined;
  /** UTF-8 bytes of the text so far when measuring (`measureJsonCopy`); -1 when not. */
  bytes: number;
}

function failAt(walk: Walk, step: string | number | undefined, rule: string): never {
  throw new InvalidMessageError(pathOf(walk.field, walk.stack, step), rule);
}

function isOpen(walk: Walk, source: object): boolean {
  if (walk.open) return walk.open.has(source);
  const stack = walk.stack;
  for (let i = 0; i < stack.length; i++) if (stack[i]!.source === source) return true;
  return false;
}

/** Opens a container: checks cycle and depth, pushes its frame, returns its (empty) copy. */
function enterContainer(walk: Walk, source: object, step: string | number | undefined): unknown[] | Record<string, unknown> {
  const stack = walk.stack;
  if (isOpen(walk, source)) failAt(walk, step, 'must be JSON-serialisable; it refers to itself (cycle)');
  if (stack.length >= walk.maxDepth) {
    failAt(walk, step, `nests objects and arrays deeper than ${walk.maxDepth} levels (the limit, MAX_JSON_DEPTH)`);
  }
  if (walk.open) walk.open.add(source);
  else if (stack.length >= OPEN_SCAN_DEPTH) walk.open = new Set([...stack.map((frame) => frame.source), source]);
  // Its brackets or braces (its items are counted as the walk reaches them).
  if (walk.bytes >= 0) walk.bytes += 2;
  if (Array.isArray(source)) {
    const length = source.length;
    const copy = new Array<unknown>(length);
    stack.push({ source, copy, keys: undefined, length, index: 0, step });
    return copy;
  }
  const keys = Object.keys(source);
  const copy: Record<string, unknown> = {};
  stack.push({ source, copy, keys, length: keys.length, index: 0, step });
  return copy;
}

/**
 * `encodeJsonObject`'s checks for a value `JSON.parse` just made, without the copy and the encode:
 * such a value is plain objects and arrays, strings, booleans and null with no cycles and no
 * getters, so only its depth (at most `maxDepth`) and its numbers (`1e999` parses to Infinity) can
 * break the rules. The read path of every backend; allocates nothing. When something fails, the full walk
 * of `encodeJsonObject` runs to throw the same `InvalidMessageError` with the path of the value.
 */
export function assertParsedJsonDepth(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  if (!isPlainObject(value) || !parsedJsonFits(value, maxDepth)) {
    encodeJsonObject(value, field, maxDepth);
  }
}

/**
 * True when parsed JSON is at most `maxDepth` containers deep and holds only finite numbers: a walk
 * that allocates nothing (recursion at most `maxDepth` deep; a list of the containers still to
 * visit and `Object.values` of each were a few hundred bytes of garbage per decoded message).
 */
function parsedJsonFits(container: object, maxDepth: number, level = 1): boolean {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) if (!parsedItemFits(container[i], maxDepth, level)) return false;
    return true;
  }
  const record = container as Record<string, unknown>;
  for (const key in record) if (!parsedItemFits(record[key], maxDepth, level)) return false;
  return true;
}

function parsedItemFits(item: unknown, maxDepth: number, level: number): boolean {
  if (typeof item === 'number') return Number.isFinite(item);
  if (typeof item === 'object' && item !== null) return level < maxDepth && parsedJsonFits(item, maxDepth, level + 1);
  return true;
}

/** Plain object: its prototype is `Object.prototype` or null (JSON's objects, `Object.create(null)`). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const IDENTIFIER_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_PATH_STEPS = 16;
const MAX_KEY_CHARS = 40;

/**
 * The path to a value, built only when something fails: `field.key[3].other`; keys that are not
 * identifiers in brackets; a very deep path keeps its first and last steps around a count.
 */
function pathOf(field: string, stack: readonly Frame[], last: string | number | undefined): string {
  const steps: Array<string | number> = stack.slice(1).map((frame) => frame.step as string | number);
  if (last !== undefined) steps.push(last);
  const render = (step: string | number): string => {
    if (typeof step === 'number') return `[${step}]`;
    if (IDENTIFIER_RE.test(step) && step.length <= MAX_KEY_CHARS) return `.${step}`;
    const key = step.length > MAX_KEY_CHARS ? `${step.slice(0, MAX_KEY_CHARS - 3)}...` : step;
    return `[${JSON.stringify(key)}]`;
  };
  if (steps.length <= MAX_PATH_STEPS) return field + steps.map(render).join('');
  const head = steps.slice(0, MAX_PATH_STEPS / 2).map(render).join('');
  const tail = steps.slice(-MAX_PATH_STEPS / 2 + 1).map(render).join('');
  return `${field}${head}...(${steps.length - MAX_PATH_STEPS + 1} more levels)...${tail}`;
}
