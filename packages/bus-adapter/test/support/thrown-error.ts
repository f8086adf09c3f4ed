/**
 * What a call that must fail failed with, for a test to check the key, field or rule it names.
 * Each fails the test when the call succeeds (or fails with an error of another class).
 */
import { InvalidConfigError } from '@woodwork/bus-core';
import { expect } from 'vitest';

export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

export async function configRejection(promise: Promise<unknown>): Promise<InvalidConfigError> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(InvalidConfigError);
  return error as InvalidConfigError;
}

export function configError(run: () => unknown): InvalidConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return error as InvalidConfigError;
  }
  throw new Error('expected an InvalidConfigError');
}
