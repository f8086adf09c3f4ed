/**
 * Config files: the design's YAML files (`message_bus_dev.yml`, `message_bus_local.yml`,
 * `message_bus_cloud.yml`) with a top-level `message_bus:` section. Loading parses the file,
 * substitutes `${VAR}` (and `${VAR:-default}`) in string values from the environment, and checks
 * the result with `resolveBusConfig`; it never connects.
 *
 * Substitution works on parsed string values, not on the file's text, so a variable's value can
 * never add keys or break the YAML. A value that is exactly one `${VAR}` still works for numeric
 * keys: numbers may be written as numeric strings.
 */
import { readFile } from 'node:fs/promises';
import { InvalidConfigError, describe } from '@woodwork/bus-core';
import { parse as parseYaml } from 'yaml';
import { resolveBusConfig, type ResolvedBusConfig } from './bus-config.js';
import { ConfigSyntaxError, MissingEnvironmentVariableError } from './errors.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The top-level key of a bus config file. */
export const CONFIG_SECTION = 'message_bus';

const REFERENCE_RE = /\$\{([^}]*)\}/g;
const VARIABLE_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces every `${VAR}` / `${VAR:-default}` in `value`. An unset variable without a default is a
 * `MissingEnvironmentVariableError` naming it; `${VAR:-default}` uses the default when VAR is
 * unset or empty (as the shell does).
 */
export function substituteVariables(value: string, env: Environment, key: string): string {
  return value.replace(REFERENCE_RE, (_match, body: string) => {
    const parsed = VARIABLE_RE.exec(body);
    if (!parsed) {
      throw new InvalidConfigError(key, `has a malformed reference \${${body}}: use \${NAME} or \${NAME:-default}, NAME being letters, digits and "_"`);
    }
    const [, variable, fallback] = parsed as unknown as [string, string, string | undefined];
    const current = env[variable];
    if (fallback !== undefined) return current === undefined || current === '' ? fallback : current;
    if (current === undefined) throw new MissingEnvironmentVariableError(key, variable);
    return current;
  });
}

function substituteAll(value: unknown, env: Environment, key: string): unknown {
  if (typeof value === 'string') return substituteVariables(value, env, key);
  if (Array.isArray(value)) return value.map((item, i) => substituteAll(item, env, `${key}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteAll(v, env, `${key}.${k}`);
    return out;
  }
  return value;
}

/**
 * Checks the text of a config file: YAML with exactly one top-level key, `message_bus`. `source`
 * names the file in errors.
 */
export function parseConfigText(text: string, env: Environment = process.env, source = 'config'): ResolvedBusConfig {
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    throw syntaxError(error, source);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new InvalidConfigError(source, `must be a YAML mapping with a top-level "${CONFIG_SECTION}" key; got ${describe(document)}`);
  }
  for (const key of Object.keys(document)) {
    if (key !== CONFIG_SECTION) throw new InvalidConfigError(key, `is not a known top-level key of ${source}`, [CONFIG_SECTION]);
  }
  if (!(CONFIG_SECTION in document)) {
    throw new InvalidConfigError(CONFIG_SECTION, `is missing from ${source}: the settings go under a top-level "${CONFIG_SECTION}:" key`);
  }
  const section = substituteAll((document as Record<string, unknown>)[CONFIG_SECTION], env, CONFIG_SECTION);
  return resolveBusConfig(section, { keyName: (key) => `${CONFIG_SECTION}.${key}`, section: CONFIG_SECTION });
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
export async function loadConfigFile(path: string, env: Environment = process.env): Promise<ResolvedBusConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new InvalidConfigError(path, `cannot be read (${reason})`, undefined, { cause: error });
  }
  return parseConfigText(text, env, path);
}
