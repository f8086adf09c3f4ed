/**
 * `readConfigFile`: the text of a file a setting names, or a `ConfigFileError` naming the setting,
 * the file and why (missing, a folder, empty).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BusErrorCode, ConfigFileError, InvalidConfigError, readConfigFile } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-core-config-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failure(key: string, file: unknown): ConfigFileError {
  try {
    readConfigFile(key, file);
  } catch (error) {
    return error as ConfigFileError;
  }
  throw new Error('readConfigFile did not throw');
}

describe('readConfigFile', () => {
  it('returns the text of a readable file', () => {
    writeFileSync(join(dir, 'ca.crt'), 'PEM TEXT\n');
    expect(readConfigFile('tls.caFile', join(dir, 'ca.crt'))).toBe('PEM TEXT\n');
  });

  it('names the setting, the file and the reason; it is an InvalidConfigError with the config code', () => {
    const missing = failure('tls.caFile', join(dir, 'missing.crt'));
    expect(missing).toBeInstanceOf(ConfigFileError);
    expect(missing).toBeInstanceOf(InvalidConfigError);
    expect(missing.code).toBe(BusErrorCode.INVALID_CONFIG);
    expect(missing.name).toBe('ConfigFileError');
    expect(missing.key).toBe('tls.caFile');
    expect(missing.file).toBe(join(dir, 'missing.crt'));
    expect(missing.reason).toBe('ENOENT');
    expect(missing.message).toBe(`invalid config: tls.caFile names the file ${join(dir, 'missing.crt')}, which cannot be read (ENOENT)`);
    expect(failure('tls.certFile', dir).reason).toBe('EISDIR');
    writeFileSync(join(dir, 'empty.key'), '  \n');
    expect(failure('tls.keyFile', join(dir, 'empty.key')).reason).toBe('empty');
    expect(failure('credentialsFile', '').reason).toBe('not a file path');
    expect(failure('credentialsFile', 42).message).toContain('credentialsFile names the file 42');
  });
});
