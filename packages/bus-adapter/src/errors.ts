/**
 * The adapter's own errors. Config problems stay `InvalidConfigError`s (core's class, so a caller
 * that handles bad config handles these too); the subclasses carry what a caller or a CLI needs to
 * say exactly what to fix: the package to install, the environment variable to set.
 */
import { InvalidConfigError } from '@woodwork/bus-core';

/** The backend package for the configured `type` cannot be imported. */
export class BackendNotInstalledError extends InvalidConfigError {
  override readonly name: string = 'BackendNotInstalledError';
  constructor(
    readonly backendType: string,
    /** The package that is missing: the backend itself, or one of its own dependencies. */
    readonly packageName: string,
    /** The backend package the `type` selects. */
    readonly backendPackage: string,
    options?: { cause?: unknown },
  ) {
    super(
      'type',
      packageName === backendPackage
        ? `"${backendType}" needs the package ${backendPackage}, which is not installed: run npm install ${backendPackage}`
        : `"${backendType}" loads ${backendPackage}, whose dependency ${packageName} is not installed: run npm install ${packageName}`,
      undefined,
      options,
    );
  }
}

/** A `${VAR}` in a config file refers to an environment variable that is not set. */
export class MissingEnvironmentVariableError extends InvalidConfigError {
  override readonly name: string = 'MissingEnvironmentVariableError';
  constructor(
    /** Where the reference is, e.g. `message_bus.redis_url`. */
    key: string,
    readonly variable: string,
    /** The config file holding the reference, when it came from one. */
    readonly file?: string,
  ) {
    super(key, `refers to \${${variable}}, but the environment variable ${variable} is not set`, undefined, file === undefined ? undefined : { source: file });
  }
}

/** A config file is not valid YAML (or repeats a key); `line` / `column` point at it when the parser knows. */
export class ConfigSyntaxError extends InvalidConfigError {
  override readonly name: string = 'ConfigSyntaxError';
  constructor(
    /** The file (or `config` for text given to `parseConfigText` without a file); also the error's `key`. */
    readonly file: string,
    readonly line: number | undefined,
    readonly column: number | undefined,
    /** The parser's explanation, without its position. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(file, `is not valid YAML${line === undefined ? '' : ` (line ${line}, column ${column ?? 1})`}: ${reason}`, undefined, options);
  }
}
