/**
 * Config files: the design's YAML files (`message_bus_dev.yml`, `message_bus_local.yml`,
 * `message_bus_cloud.yml`) with a top-level `message_bus:` section. Loading parses the file,
 * substitutes `${VAR}` (and `${VAR:-default}`) in string values from the environment, and checks
 * the result with `resolveBusConfig`; it never connects.
 *
 * Substitution works on parsed string values, not on the file's text, so a variable's value can
 * never add keys or break the YAML. A value that is exactly one `${VAR}` still works for numeric
 * keys: numbers may be written as numeric strings.
 *
 * Limits and hostile files: at most `MAX_CONFIG_FILE_BYTES` (64 KiB), refused before parsing;
 * duplicate keys found in one pass (a file of 40,000 keys is rejected at once, not in seconds);
 * own keys only, in null-prototype maps (`__proto__:` is an unknown key, never a prototype); only
 * the environment's own variables are substituted; parser warnings are collected on the result,
 * never printed with the source line.
 */
import { open } from 'node:fs/promises';
import { InvalidConfigError, describeValue, redactSecrets, type BusLogger } from '@woodwork/bus-core';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { resolveBusConfig, type ResolvedBusConfig } from './bus-config.js';
import { ConfigSyntaxError, MissingEnvironmentVariableError } from './errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The top-level key of a bus config file. */
export const CONFIG_SECTION = 'message_bus';

/**
 * Largest config file, in bytes (64 KiB; the design's files are under 300 bytes). A bigger file is
 * an `InvalidConfigError` naming the file, found before parsing: a huge or endless file (a log, a
 * device) is never read whole.
 */
export const MAX_CONFIG_FILE_BYTES = 64 * 1024;

const REFERENCE_RE = /\$\{([^}]*)\}/g;
const VARIABLE_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces every `${VAR}` / `${VAR:-default}` in `value`. An unset variable without a default is a
 * `MissingEnvironmentVariableError` naming it (and `file`, when given); `${VAR:-default}` uses the
 * default when VAR is unset or empty (as the shell does). Only the environment's own variables
 * count: `${constructor}` or `${toString:-x}` never read anything from a prototype.
 */
export function substituteVariables(value: string, env: Environment, key: string, file?: string): string {
  return value.replace(REFERENCE_RE, (_match, body: string) => {
    const parsed = VARIABLE_RE.exec(body);
    if (!parsed) {
      throw new InvalidConfigError(key, `has a malformed reference \${${body}}: use \${NAME} or \${NAME:-default}, NAME being letters, digits and "_"`);
    }
    const [, variable, fallback] = parsed as unknown as [string, string, string | undefined];
    const current = Object.hasOwn(env, variable) ? env[variable] : undefined;
    if (fallback !== undefined) return current === undefined || current === '' ? fallback : current;
    if (current === undefined) throw new MissingEnvironmentVariableError(key, variable, file);
    return current;
  });
}

/**
 * The parsed section with every string substituted, as null-prototype maps: a `__proto__` key in
 * the file stays an ordinary (unknown) key and never becomes a prototype. Iterative, so nesting in
 * a hostile file cannot overflow the stack.
 */
function substituteAll(value: unknown, env: Environment, key: string, file: string | undefined): unknown {
  const root: { value: unknown } = { value: undefined };
  const work: Array<{ from: unknown; into: Record<string | number, unknown>; slot: string | number; key: string }> = [
    { from: value, into: root as unknown as Record<string, unknown>, slot: 'value', key },
  ];
  while (work.length > 0) {
    const { from, into, slot, key: at } = work.pop()!;
    let made: unknown = from;
    if (typeof from === 'string') made = substituteVariables(from, env, at, file);
    else if (Array.isArray(from)) {
      const list: unknown[] = new Array<unknown>(from.length);
      // Pushed last-first, so values are substituted (and errors found) in file order.
      for (let i = from.length - 1; i >= 0; i--) work.push({ from: from[i], into: list as unknown as Record<number, unknown>, slot: i, key: `${at}[${i}]` });
      made = list;
    } else if (typeof from === 'object' && from !== null) {
      const map = Object.create(null) as Record<string, unknown>;
      const keys = Object.keys(from);
      for (const k of keys) map[k] = undefined; // the file's key order; values are filled in below
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        work.push({ from: (from as Record<string, unknown>)[k], into: map, slot: k, key: `${at}.${k}` });
      }
      made = map;
    }
    into[slot] = made;
  }
  return root.value;
}

/**
 * Checks the text of a config file: YAML with exactly one top-level key, `message_bus`, at most
 * `MAX_CONFIG_FILE_BYTES`. `file` names the file in every error (without it they say `config`).
 * Parser warnings are returned on the result (`warnings`), never printed.
 */
export function parseConfigText(text: string, env: Environment = process.env, file?: string): ResolvedBusConfig {
  const source = file ?? 'config';
  const size = Buffer.byteLength(text);
  if (size > MAX_CONFIG_FILE_BYTES) throw tooBig(source, `${size} bytes`);
  const lineCounter = new LineCounter();
  // Duplicate keys are found below in one pass; the parser's own check compares every pair of keys.
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter, logLevel: 'silent' });
  if (doc.errors.length > 0) throw syntaxError(doc.errors[0], source);
  rejectDuplicateKeys(doc.contents as YamlNode | null, lineCounter, source);
  const warnings = doc.warnings.map((warning) => describeWarning(warning, source));
  let document: unknown;
  try {
    document = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw syntaxError(error, source);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new InvalidConfigError(source, `must be a YAML mapping with a top-level "${CONFIG_SECTION}" key; got ${describeValue(document)}`);
  }
  for (const key of Object.keys(document)) {
    if (key !== CONFIG_SECTION) throw new InvalidConfigError(key, 'is not a known top-level key', [CONFIG_SECTION], inSource(file));
  }
  if (!Object.hasOwn(document, CONFIG_SECTION)) {
    throw new InvalidConfigError(CONFIG_SECTION, `is missing: the settings go under a top-level "${CONFIG_SECTION}:" key`, undefined, inSource(file));
  }
  try {
    const section = substituteAll((document as Record<string, unknown>)[CONFIG_SECTION], env, CONFIG_SECTION, file);
    return resolveBusConfig(section, { keyName: (key) => `${CONFIG_SECTION}.${key}`, section: CONFIG_SECTION, warnings });
  } catch (error) {
    throw file === undefined ? error : inFile(error, file);
  }
}

function inSource(file: string | undefined): { source: string } | undefined {
  return file === undefined ? undefined : { source: file };
}

/**
 * Every error about a file's content names the file, the same way (`invalid config: <file>: <key>
 * <rule>`): core's checks know only the key, so their plain `InvalidConfigError`s are made again
 * with the file as `source`. Subclasses already carry what they need and pass as they are.
 */
function inFile(error: unknown, source: string): unknown {
  if (!(error instanceof InvalidConfigError) || error.constructor !== InvalidConfigError || error.source !== undefined) return error;
  return new InvalidConfigError(error.key, error.rule, error.allowed, error.cause === undefined ? { source } : { source, cause: error.cause });
}

function tooBig(source: string, size: string): InvalidConfigError {
  return new InvalidConfigError(source, `is ${size}; a config file may hold at most ${MAX_CONFIG_FILE_BYTES} bytes (MAX_CONFIG_FILE_BYTES)`);
}

/** A key twice in one mapping is a syntax error at the second one, found in one pass over the tree. */
function rejectDuplicateKeys(root: YamlNode | null, lines: LineCounter, source: string): void {
  const stack: YamlNode[] = root ? [root] : [];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const name = isScalar(keyNode) ? `${typeof keyNode.value}:${String(keyNode.value)}` : undefined;
        if (name !== undefined) {
          if (seen.has(name)) {
            const at = keyNode?.range ? lines.linePos(keyNode.range[0]) : undefined;
            throw new ConfigSyntaxError(source, at?.line, at?.col, 'Map keys must be unique');
          }
          seen.add(name);
        }
        if (pair.value) stack.push(pair.value as YamlNode);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) if (item) stack.push(item as YamlNode);
    }
  }
}

/** A parser warning as one line: where and why, without the parser's copy of the source line. */
function describeWarning(warning: { message: string; linePos?: Array<{ line: number; col: number }> }, source: string): string {
  const reason = (warning.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  const at = warning.linePos?.[0];
  return `${source}${at ? ` (line ${at.line}, column ${at.col})` : ''}: ${reason}`;
}

/** The yaml parser's error, with its position as numbers and its reason without the code excerpt. */
function syntaxError(error: unknown, source: string): ConfigSyntaxError {
  const firstLine = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  const position = (error as { linePos?: Array<{ line?: unknown; col?: unknown }> } | null)?.linePos?.[0];
  const line = typeof position?.line === 'number' ? position.line : undefined;
  const column = typeof position?.col === 'number' ? position.col : undefined;
  const reason = firstLine.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  return new ConfigSyntaxError(source, line, column, reason, { cause: error });
}

/**
 * Reads, substitutes and checks a bus config file. Resolves with the checked config (pass its
 * `config` or the whole result to `MessageBusFactory.createMessageBus`); rejects with
 * `InvalidConfigError` (or its subclass `MissingEnvironmentVariableError`) naming the key and rule.
 */
export async function loadConfigFile(path: string, env: Environment = process.env, options: LoadConfigOptions = {}): Promise<ResolvedBusConfig> {
  const text = await readBounded(path);
  const config = parseConfigText(text, env, path);
  if (options.logger) {
    for (const warning of config.warnings) {
      try {
        options.logger.warn('config file warning', { file: path, warning });
      } catch {
        // A logger that throws must not turn a loadable config into a failure.
      }
    }
  }
  return config;
}

export interface LoadConfigOptions {
  /** Receives the parser's warnings (`warn`), one call each; they are on the result's `warnings` too. */
  logger?: BusLogger;
}

/** The file's text, read up to one byte past the limit: a bigger (or endless) file is refused unread. */
async function readBounded(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_CONFIG_FILE_BYTES) throw tooBig(path, `more than ${MAX_CONFIG_FILE_BYTES} bytes`);
    return buffer.subarray(0, length).toString('utf8');
  } catch (error) {
    if (error instanceof InvalidConfigError) throw error;
    throw unreadable(path, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function unreadable(path: string, error: unknown): InvalidConfigError {
  const reason = (error as NodeJS.ErrnoException).code ?? redactSecrets(error instanceof Error ? error.message : String(error));
  return new InvalidConfigError(path, `cannot be read (${reason})`, undefined, { cause: error });
}
