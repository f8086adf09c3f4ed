import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BusErrorCode,
  PermissionDeniedError,
  guardedLogger,
  redactError,
  redactKnownSecrets,
  redactSecrets,
  type BusLogger,
} from '../src/index.js';

const SECRET = 'S3cret-Pa55word';

describe('redactSecrets', () => {
  it('hides a URL password, a token user part and secret-looking query parameters, keeping host and port', () => {
    expect(redactSecrets('redis://admin:S3cret@h:6379/0')).toBe('redis://admin:***@h:6379/0');
    expect(redactSecrets('nats://tok3n@h:4222')).toBe('nats://***@h:4222');
    expect(redactSecrets('rediss://h:6380/?password=x&db=1')).toBe('rediss://h:6380/?password=***&db=1');
    expect(redactSecrets('mail a@b about it')).toBe('mail a@b about it');
  });
});

describe('redactKnownSecrets', () => {
  it('replaces every occurrence of a known secret, and URL secrets too', () => {
    expect(redactKnownSecrets(`AUTH default ${SECRET} then ${SECRET}`, [SECRET])).toBe('AUTH default *** then ***');
    expect(redactKnownSecrets('redis://u:p@h', [])).toBe('redis://u:***@h');
  });
  it('does not search for secrets shorter than 4 characters', () => {
    expect(redactKnownSecrets('a cat', ['a'])).toBe('a cat');
  });
});

describe('redactError', () => {
  it('keeps class, name and code, and redacts message, stack, own fields and the cause chain', () => {
    const driver = Object.assign(new Error(`WRONGPASS for ${SECRET}`), {
      command: { name: 'auth', args: ['default', SECRET] },
      previousErrors: [new Error(`again ${SECRET}`)],
    });
    const error = new AuthenticationError(`refused at redis://u:${SECRET}@h:1`, { cause: driver, server: 'h:1', user: 'u' });
    const safe = redactError(error, [SECRET]);
    expect(safe).toBeInstanceOf(AuthenticationError);
    expect(safe.code).toBe(BusErrorCode.AUTHENTICATION);
    expect(safe.user).toBe('u');
    expect(safe.server).toBe('h:1');
    const printed = inspect(safe, { depth: null });
    expect(printed).not.toContain(SECRET);
    expect(printed).toContain('WRONGPASS for ***');
    expect(printed).toContain("'default', '***'");
    // The original is untouched.
    expect((error.cause as Error).message).toContain(SECRET);
  });
  it('survives cycles and leaves non-text values alone', () => {
    const error = new Error(SECRET) as Error & { self?: unknown; at?: Date };
    error.self = error;
    error.at = new Date(0);
    const safe = redactError(error, [SECRET]);
    expect(safe.message).toBe('***');
    expect(safe.self).toBe(safe);
    expect(safe.at).toBe(error.at);
  });
  it('redacts a plain string', () => {
    expect(redactError(`x ${SECRET}`, [SECRET])).toBe('x ***');
  });
});

describe('PermissionDeniedError', () => {
  it('names the refused operation and the user, with its own code', () => {
    const error = new PermissionDeniedError('NOPERM', { operation: 'XADD woodwork:x', user: 'app', server: 'h:1' });
    expect(error.code).toBe('PERMISSION_DENIED');
    expect(error.name).toBe('PermissionDeniedError');
    expect(error.operation).toBe('XADD woodwork:x');
    expect(error.user).toBe('app');
  });
});

describe('guardedLogger with secrets', () => {
  it('redacts the message and every string in the context, errors included', () => {
    const lines: string[] = [];
    const sink: BusLogger = {
      debug: (m, c) => lines.push(inspect({ m, c }, { depth: null })),
      info: (m, c) => lines.push(inspect({ m, c }, { depth: null })),
      warn: (m, c) => lines.push(inspect({ m, c }, { depth: null })),
      error: (m, c) => lines.push(inspect({ m, c }, { depth: null })),
    };
    const logger = guardedLogger(sink, [SECRET]);
    logger.warn(`reconnecting to redis://u:${SECRET}@h`, { error: new Error(`bad ${SECRET}`), args: [SECRET] });
    logger.error('plain');
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(lines[0]).toContain('redis://u:***@h');
  });
  it('still swallows a logger that throws', () => {
    const logger = guardedLogger({ debug() {}, info() {}, warn() { throw new Error('closed'); }, error() {} }, [SECRET]);
    expect(() => logger.warn('x')).not.toThrow();
  });
});
