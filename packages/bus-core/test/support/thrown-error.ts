/**
 * Runs code that must throw a typed error and hands the error back, so a test can check the field,
 * key or rule it names. Fails the test when nothing, or something of another class, is thrown.
 */
import { expect } from 'vitest';
import { InvalidConfigError, InvalidMessageError } from '../../src/index.js';

export function thrownBy<E extends Error>(errorClass: abstract new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(errorClass);
    return error as E;
  }
  throw new Error(`expected an ${errorClass.name}, nothing was thrown`);
}

export function configError(run: () => unknown): InvalidConfigError {
  return thrownBy(InvalidConfigError, run);
}

export function invalidMessage(run: () => unknown): InvalidMessageError {
  return thrownBy(InvalidMessageError, run);
}
