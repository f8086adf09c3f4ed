/**
 * Reading a file a config names (TLS CA, certificate, key; a NATS credentials file), once, with a
 * typed error that says which setting named which file and why it cannot be read. The content is
 * never put into an error.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigFileError } from './errors.js';

/** Largest file read this way (certificates and keys are a few KiB). */
export const MAX_CONFIG_FILE_READ_BYTES = 1024 * 1024;

/**
 * The text of `file`, which the setting `key` names. A missing, unreadable, empty or oversized file
 * is a `ConfigFileError` naming `key`, `file` and the reason (`ENOENT`, `EACCES`, `EISDIR`, `empty`).
 */
export function readConfigFile(key: string, file: unknown): string {
  if (typeof file !== 'string' || file.trim() === '') throw new ConfigFileError(key, String(file), 'not a file path');
  let text: string;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (stat.size > MAX_CONFIG_FILE_READ_BYTES) throw new ConfigFileError(key, file, `larger than ${MAX_CONFIG_FILE_READ_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigFileError) throw error;
    const code = (error as NodeJS.ErrnoException)?.code ?? 'unreadable';
    throw new ConfigFileError(key, file, code, { cause: error });
  }
  if (text.trim() === '') throw new ConfigFileError(key, file, 'empty');
  return text;
}
