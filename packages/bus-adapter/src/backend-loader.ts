/**
 * Loads a backend package by name at run time, so an app installs only the backends it uses
 * (`@woodwork/bus-core` + `@woodwork/bus-redis` never pulls NATS). A package that is missing
 * becomes a `BackendNotInstalledError` saying which package to `npm install`.
 */
import { InvalidConfigError, type BusOptions, type MessageBus } from '@woodwork/bus-core';
import { BackendNotInstalledError } from './errors.js';

/** What every backend package exports. */
export interface BackendModule {
  createMessageBus(options?: BusOptions & Record<string, unknown>): MessageBus | Promise<MessageBus>;
}

/** Imports a module by name; the default is Node's dynamic `import()`. */
export type ImportModule = (packageName: string) => Promise<unknown>;

export const importModule: ImportModule = (packageName) => import(packageName);

const MISSING_PACKAGE_RE = /Cannot find (?:package|module) '([^']+)'/;

/** The package a "not found" error is about, or undefined for any other import failure. */
function missingPackage(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const match = MISSING_PACKAGE_RE.exec(error instanceof Error ? error.message : String(error));
  return match?.[1];
}

function isPath(specifier: string): boolean {
  return specifier.startsWith('/') || specifier.startsWith('file:') || specifier.startsWith('.') || /^[A-Za-z]:[\\/]/.test(specifier);
}

/** The package name a module specifier or a resolved path belongs to. */
function packageOf(specifier: string): string {
  const marker = '/node_modules/';
  const at = specifier.lastIndexOf(marker);
  const rest = at >= 0 ? specifier.slice(at + marker.length) : specifier;
  const parts = rest.split('/');
  return rest.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? rest);
}

/**
 * Imports `packageName` and returns its `createMessageBus`. Rejects with
 * `BackendNotInstalledError` when the package (or a dependency of it) is not installed, and with
 * `InvalidConfigError` when the package is not a woodwork bus backend.
 */
export async function loadBackend(
  backendType: string,
  packageName: string,
  load: ImportModule = importModule,
): Promise<BackendModule['createMessageBus']> {
  let module: unknown;
  try {
    module = await load(packageName);
  } catch (error) {
    const missing = missingPackage(error);
    if (missing !== undefined && isPath(missing) && !missing.includes('/node_modules/')) {
      throw new InvalidConfigError(
        'type',
        `"${backendType}" loads ${packageName}, but its file ${missing} is missing (a workspace package that is not built?)`,
        undefined,
        { cause: error },
      );
    }
    if (missing !== undefined) {
      const name = packageOf(missing);
      throw new BackendNotInstalledError(backendType, name === packageOf(packageName) ? packageName : name, packageName, { cause: error });
    }
    throw error;
  }
  const create = (module as Partial<BackendModule> | null)?.createMessageBus;
  if (typeof create !== 'function') {
    throw new InvalidConfigError(
      'type',
      `"${backendType}" loads ${packageName}, which does not export createMessageBus(options): it is not a woodwork bus backend`,
    );
  }
  return create;
}
