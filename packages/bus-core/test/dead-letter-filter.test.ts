/**
 * Dead-letter filters: a misspelt key or a wrong type is an InvalidConfigError naming filter.<key>
 * (it would otherwise match every record); a valid filter matches as documented.
 */
import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  matchesDeadLetterFilter,
  validateDeadLetterFilter,
  validateDeadLetterLimit,
  type DeadLetterRecord,
} from '../src/index.js';
import { configError } from './support/thrown-error.js';

const record: DeadLetterRecord = {
  id: 'dl-1',
  envelope: createEnvelope({ sessionId: 's1', eventType: 'a.b', componentSource: 'c' }),
  error: { name: 'Error', message: 'x' },
  attempts: 1,
  firstFailedAt: 1,
  lastFailedAt: 1,
  source: { stream: 'st', id: '1' },
  group: 'g',
};

describe('validateDeadLetterFilter', () => {
  it.each([
    [{ sesionId: 's1' }, 'filter.sesionId'],
    [{ sessionId: 1 }, 'filter.sessionId'],
    [{ group: null }, 'filter.group'],
    [{ ids: 'dl-1' }, 'filter.ids'],
    [{ ids: [1] }, 'filter.ids'],
    [{ limit: -1 }, 'filter.limit'],
    [{ limit: 1.5 }, 'filter.limit'],
    ['sessionId', 'filter'],
  ])('rejects %j naming %s', (filter, key) => {
    expect(configError(() => validateDeadLetterFilter(filter)).key).toBe(key);
  });

  it('lists the allowed keys for an unknown one, without limit where a limit is given apart', () => {
    expect(configError(() => validateDeadLetterFilter({ x: 1 })).allowed).toEqual(['ids', 'messageId', 'sessionId', 'group', 'eventType', 'limit']);
    expect(configError(() => validateDeadLetterFilter({ limit: 1 }, false)).key).toBe('filter.limit');
  });

  it('accepts valid filters, undefined values and no filter', () => {
    for (const filter of [undefined, {}, { sessionId: 's1', group: 'g', eventType: 'a.b', ids: ['dl-1'], limit: 0 }, { sessionId: undefined }]) {
      expect(validateDeadLetterFilter(filter)).toBe(filter);
    }
    expect(matchesDeadLetterFilter(record, { sessionId: 's1', group: 'g' })).toBe(true);
    expect(matchesDeadLetterFilter(record, { sessionId: 's2' })).toBe(false);
  });

  it('checks a limit given apart', () => {
    expect(validateDeadLetterLimit(0)).toBe(0);
    expect(configError(() => validateDeadLetterLimit(Number.NaN)).key).toBe('limit');
  });
});
