/**
 * The command line of `woodwork-bus`: which commands and options exist, their usage text, and the
 * parsing (node:util `parseArgs`, no dependency) into one checked `CliCommand`. Anything wrong on
 * the command line is a `UsageError` (exit code 2, usage text shown).
 */
import { parseArgs } from 'node:util';
import { InvalidMessageError, validateEventType, validateName } from '@woodwork/bus-core';

export const USAGE = `Usage: woodwork-bus [--config <file.yml>] [--json] <command>

Commands:
  health                                  backend status, metrics and groups (exit 1 when unhealthy)
  dlq list [--limit N] [--session S] [--group G] [--event E]
                                          dead letters, oldest first (default limit 100)
  dlq show <id>                           one dead letter with its envelope and error
  dlq redrive <id>... | --all | [--session S] [--group G] [--event E]
                                          send dead letters back to their group
  dlq purge <id>... | --all | [--session S] [--group G] [--event E]
                                          delete dead letters
  tail --session S [--event E]            print a session's messages as they arrive, consuming
                                          nothing (Ctrl-C or SIGTERM to stop)
  ui [--port N] [--host H] [--token T]    a web dashboard (overview, dead letters, live tail) on
                                          127.0.0.1:4319 by default; prints its link with the token
                                          (needs the package @woodwork/bus-dashboard; the token may
                                          come from WOODWORK_UI_TOKEN instead of --token)

Options:
  --config <file.yml>  a config file with a "message_bus:" section (default: the environment)
  --json               machine-readable output (tail: one JSON envelope per line)
  -h, --help           show this text

Environment (without --config): WOODWORK_MESSAGE_BUS (memory | redis | nats), WOODWORK_REDIS_URL,
  WOODWORK_NATS_URL, WOODWORK_STREAM_PREFIX, WOODWORK_CONSUMER_GROUP; logins and TLS:
  WOODWORK_REDIS_USERNAME, WOODWORK_REDIS_PASSWORD, WOODWORK_REDIS_TLS_CA_FILE, _TLS_CERT_FILE,
  _TLS_KEY_FILE, _TLS_SERVER_NAME, WOODWORK_REDIS_SENTINEL_USERNAME, _SENTINEL_PASSWORD;
  WOODWORK_NATS_USERNAME, _PASSWORD, _TOKEN, _CREDENTIALS_FILE, _NKEY_SEED_FILE, _TLS_CA_FILE,
  _TLS_CERT_FILE, _TLS_KEY_FILE, _TLS_SERVER_NAME. Passwords and tokens are never printed.

A memory bus (the default) lives inside one process: this command gets its own, empty one and never
sees an app's. Use redis or nats to inspect a running app from outside, or run the same commands
inside the app on its memory bus: runCli(argv, { env, stdout, stderr, createBus: () => bus }) from
@woodwork/bus-adapter.
Exit codes: 0 ok, 1 failure, 2 usage error.
`;

/** The command line cannot be understood; the CLI prints the reason and the usage text. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DeadLetterSelection {
  ids: string[];
  all: boolean;
  sessionId?: string;
  group?: string;
  eventType?: string;
}

export type CliCommand =
  | { name: 'help' }
  | { name: 'health' }
  | { name: 'dlq-list'; limit: number; sessionId?: string; group?: string; eventType?: string }
  | { name: 'dlq-show'; id: string }
  | { name: 'dlq-redrive'; selection: DeadLetterSelection }
  | { name: 'dlq-purge'; selection: DeadLetterSelection }
  | { name: 'tail'; sessionId: string; eventType?: string }
  | { name: 'ui'; port?: number; host?: string; token?: string };

export interface ParsedCommandLine {
  command: CliCommand;
  json: boolean;
  configPath?: string;
}

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  session: { type: 'string' },
  group: { type: 'string' },
  event: { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

const GLOBAL_OPTIONS: readonly OptionName[] = ['config', 'json', 'help'];
const MAX_LIST_LIMIT = 10_000;

export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: joinDashValues(argv), options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    throw plainUsageError(error);
  }
  const json = values.json ?? false;
  const configPath = values.config;
  if (configPath === '') throw new UsageError('--config needs a file path');
  const base = configPath === undefined ? { json } : { json, configPath };
  if (values.help) return { ...base, command: { name: 'help' } };
  const [first, second, ...rest] = positionals;
  switch (first) {
    case undefined:
      throw new UsageError('missing command');
    case 'help':
      return { ...base, command: { name: 'help' } };
    case 'health':
      allowOnly(values, [], 'health');
      noPositionals([second, ...rest], 'health');
      return { ...base, command: { name: 'health' } };
    case 'tail':
      allowOnly(values, ['session', 'event'], 'tail');
      noPositionals([second, ...rest], 'tail');
      if (values.session === undefined) throw new UsageError('tail needs --session <id>');
      return { ...base, command: { name: 'tail', sessionId: sessionOption(values.session), ...eventOption(values.event) } };
    case 'dlq':
      return { ...base, command: parseDlq(second, rest, values) };
    case 'ui':
      allowOnly(values, ['port', 'host', 'token'], 'ui');
      noPositionals([second, ...rest], 'ui');
      return { ...base, command: { name: 'ui', ...uiOptions(values) } };
    default:
      throw new UsageError(`unknown command "${first}"${didYouMean(first, COMMANDS)}`);
  }
}

function parseDlq(sub: string | undefined, args: string[], values: Values): CliCommand {
  switch (sub) {
    case 'list': {
      allowOnly(values, ['limit', 'session', 'group', 'event'], 'dlq list');
      noPositionals(args, 'dlq list');
      return { name: 'dlq-list', limit: limitOption(values.limit), ...filterOptions(values) };
    }
    case 'show': {
      allowOnly(values, [], 'dlq show');
      if (args.length !== 1) throw new UsageError('dlq show needs exactly one dead-letter id');
      return { name: 'dlq-show', id: idArgument(args[0] as string) };
    }
    case 'redrive':
    case 'purge': {
      allowOnly(values, ['all', 'session', 'group', 'event'], `dlq ${sub}`);
      const selection: DeadLetterSelection = { ids: args.map(idArgument), all: values.all ?? false, ...filterOptions(values) };
      const filtered = selection.sessionId !== undefined || selection.group !== undefined || selection.eventType !== undefined;
      const kinds = [selection.ids.length > 0, selection.all, filtered].filter(Boolean).length;
      if (kinds === 0) {
        throw new UsageError(`dlq ${sub} needs dead-letter ids, --all, or a filter (--session, --group, --event)`);
      }
      if (kinds > 1) throw new UsageError(`dlq ${sub}: give ids, --all or filters, not several of them`);
      return sub === 'redrive' ? { name: 'dlq-redrive', selection } : { name: 'dlq-purge', selection };
    }
    case undefined:
      throw new UsageError('dlq needs a subcommand: list, show, redrive or purge');
    default:
      throw new UsageError(`unknown dlq subcommand "${sub}"${didYouMean(sub, DLQ_SUBCOMMANDS)}`);
  }
}

const COMMANDS = ['health', 'dlq', 'tail', 'ui', 'help'];
const DLQ_SUBCOMMANDS = ['list', 'show', 'redrive', 'purge'];
const LONG_NAMES = Object.keys(OPTIONS) as OptionName[];
const STRING_OPTIONS = new Set(LONG_NAMES.filter((name) => OPTIONS[name].type === 'string').map((name) => `--${name}`));

/** `--help`, `-h`, `--json=...`: what parseArgs would read as one of our options. */
function isKnownOption(token: string): boolean {
  if (token === '-h') return true;
  const match = /^--([^=]+)/.exec(token);
  return match !== null && (LONG_NAMES as string[]).includes(match[1]!);
}

/**
 * `--limit -5` and `--session -x`: a value that starts with a dash but is none of our options is the
 * option's value (parseArgs would call it "ambiguous"), so the option's own rule judges it.
 */
function joinDashValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (STRING_OPTIONS.has(token) && next !== undefined && next.startsWith('-') && next !== '--' && !isKnownOption(next)) {
      args.push(`${token}=${next}`);
      i++;
    } else {
      args.push(token);
    }
  }
  return args;
}

/** parseArgs' errors in the words of the rest of the CLI, with "did you mean" for a misspelt option. */
function plainUsageError(error: unknown): UsageError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]*)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) {
    const name = option.replace(/^-+/, '').split('=')[0]!;
    const guess = closestName(name, LONG_NAMES);
    return new UsageError(`unknown option ${option}${guess === undefined ? '' : ` (did you mean --${guess}?)`}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    if (/does not take an argument/.test(message)) return new UsageError(`${option} takes no value`);
    if (/ambiguous/.test(message)) return new UsageError(`${option} needs a value before the next option`);
    return new UsageError(`${option} needs a value`);
  }
  return new UsageError(message.split('\n')[0] ?? message);
}

/** What a misspelling most likely meant: at most 2 edits away, or the only name it begins. */
function closestName(given: string, candidates: readonly string[]): string | undefined {
  const name = given.toLowerCase();
  if (name.length === 0) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance <= 2 && distance < name.length && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  if (best) return best.name;
  const prefixed = candidates.filter((candidate) => candidate.startsWith(name));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function didYouMean(given: string, candidates: readonly string[]): string {
  const guess = closestName(given, candidates);
  return guess === undefined ? '' : ` (did you mean "${guess}"?)`;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function allowOnly(values: Values, allowed: readonly OptionName[], command: string): void {
  for (const key of Object.keys(values) as OptionName[]) {
    if (values[key] === undefined || GLOBAL_OPTIONS.includes(key) || allowed.includes(key)) continue;
    throw new UsageError(`${command} does not take --${key}`);
  }
}

function noPositionals(args: Array<string | undefined>, command: string): void {
  const extra = args.filter((a) => a !== undefined);
  if (extra.length > 0) throw new UsageError(`${command} takes no arguments; got "${extra.join(' ')}"`);
}

function filterOptions(values: Values): { sessionId?: string; group?: string; eventType?: string } {
  return {
    ...(values.session === undefined ? {} : { sessionId: sessionOption(values.session) }),
    ...(values.group === undefined ? {} : { group: checked(() => validateName(values.group, 'group'), '--group') }),
    ...eventOption(values.event),
  };
}

function sessionOption(value: string): string {
  return checked(() => validateName(value, 'sessionId'), '--session');
}

function eventOption(value: string | undefined): { eventType?: string } {
  return value === undefined ? {} : { eventType: checked(() => validateEventType(value, 'eventType'), '--event') };
}

function uiOptions(values: Values): { port?: number; host?: string; token?: string } {
  const out: { port?: number; host?: string; token?: string } = {};
  if (values.port !== undefined) {
    const port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
    if (!(port >= 0 && port <= 65_535)) throw new UsageError(`--port must be an integer from 0 to 65535 (0: a free port); got "${values.port}"`);
    out.port = port;
  }
  if (values.host !== undefined) {
    if (values.host.trim() === '') throw new UsageError('--host needs an address, such as 127.0.0.1');
    out.host = values.host;
  }
  if (values.token !== undefined) out.token = values.token;
  return out;
}

function limitOption(value: string | undefined): number {
  if (value === undefined) return 100;
  const limit = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new UsageError(`--limit must be an integer from 1 to ${MAX_LIST_LIMIT}; got "${value}"`);
  }
  return limit;
}

function idArgument(value: string): string {
  if (value.length === 0 || /\s/.test(value)) throw new UsageError(`"${value}" is not a dead-letter id`);
  return value;
}

/** Core's name and event-type rules, reported as usage errors naming the option. */
function checked<T>(check: () => T, option: string): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new UsageError(`${option} ${error.rule}`);
    throw error;
  }
}
