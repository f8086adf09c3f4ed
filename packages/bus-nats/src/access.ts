/**
 * What the server refused, as the bus's typed errors, with no secret in them.
 *
 * NATS answers a missing permission with `-ERR 'Permissions Violation for Publish to "<subject>"'`
 * (or `Subscription to`) on the connection; nats.js fails a request on that subject (every
 * JetStream API call) with `PermissionViolationError` and reports the rest only as a status event.
 * The bus's own publishes (one reply inbox, pub-acks.ts) and pull requests (pull-inbox.ts) are not
 * client requests, so `AccessWatch` reads the status events: a denied publish fails its waiting
 * calls at once with `PermissionDeniedError` instead of timing out, a denied subscription (the
 * bus's inboxes or `<prefix>.state.g.>`) makes `connect` fail, and every denial is logged and shown
 * by `healthCheck()` until the next successful check.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { AuthenticationError, PermissionDeniedError, redactError, redactKnownSecrets } from '@woodwork/bus-core';
import type { NatsAuth } from './auth.js';

/** A refusal by the server, as nats.js reports it. */
export interface Denial {
  operation: 'publish' | 'subscription';
  subject: string;
  message: string;
}

/** The most denials kept for health. */
const MAX_KEPT = 20;

export class AccessWatch {
  /** Denials since the last `takeDenials()`, oldest first. */
  private denials: Denial[] = [];
  /** A login refused on reconnect (the password changed, the JWT expired or was revoked). */
  authFailure: string | undefined;
  private readonly listeners: ((denial: Denial) => void)[] = [];
  private stopped = false;

  constructor(nc: NatsConnection) {
    void this.watch(nc);
  }

  /** Calls `listener` with every denial from now on. */
  onDenied(listener: (denial: Denial) => void): void {
    this.listeners.push(listener);
  }

  /** The denials kept so far (and forgets them). */
  takeDenials(): Denial[] {
    const taken = this.denials;
    this.denials = [];
    return taken;
  }

  /** Denials kept so far, without forgetting them. */
  peekDenials(): readonly Denial[] {
    return this.denials;
  }

  stop(): void {
    this.stopped = true;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const event of nc.status()) {
      if (this.stopped) return;
      if (event.type !== 'error') continue;
      const error = (event as { error?: Error }).error;
      if (!error) continue;
      if (error.name === 'PermissionViolationError') {
        const pe = error as Error & { operation?: string; subject?: string };
        const denial: Denial = { operation: pe.operation === 'subscription' ? 'subscription' : 'publish', subject: pe.subject ?? '', message: error.message };
        this.denials.push(denial);
        if (this.denials.length > MAX_KEPT) this.denials.shift();
        for (const listener of this.listeners) listener(denial);
      } else if (error.name === 'AuthorizationError' || error.name === 'UserAuthenticationExpiredError') {
        this.authFailure = error.message;
      }
    }
  }
}

/** The error a denial becomes for a caller. */
export function deniedError(denial: Denial, server: string, auth: NatsAuth, cause?: unknown): PermissionDeniedError {
  const verb = denial.operation === 'subscription' ? 'subscribe' : 'publish';
  return new PermissionDeniedError(
    `NATS at ${server} denied ${verb} to ${denial.subject}${auth.user ? ` for ${auth.user}` : ''} (${denial.message}); grant it (see "Permissions" in the bus-nats README)`,
    { server, operation: `${verb} ${denial.subject}`, ...(auth.user ? { user: auth.user } : {}), ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * `error` as the caller should see it: a nats.js permission violation (a JetStream API request the
 * user may not send) or JetStream disabled for the account becomes `PermissionDeniedError` naming
 * what was refused; the result, whatever it is, has the login's secrets replaced (`redactError`).
 */
export function translateError(error: unknown, server: string, auth: NatsAuth): unknown {
  const secrets = auth.secrets();
  if (error instanceof PermissionDeniedError || error instanceof AuthenticationError) return redactError(error, secrets);
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (current.name === 'PermissionViolationError') {
      const pe = current as Error & { operation?: string; subject?: string };
      const denial: Denial = { operation: pe.operation === 'subscription' ? 'subscription' : 'publish', subject: pe.subject ?? '', message: redactKnownSecrets(pe.message, secrets) };
      return deniedError(denial, server, auth, redactError(error, secrets));
    }
    if (/jetstream not enabled for account/i.test(current.message)) {
      return new PermissionDeniedError(`NATS at ${server}: JetStream is not enabled for the account of ${auth.user ?? 'this login'}; give the account JetStream limits`, {
        server,
        operation: 'jetstream',
        cause: redactError(error, secrets),
        ...(auth.user ? { user: auth.user } : {}),
      });
    }
  }
  return redactError(error, secrets);
}

/**
 * Makes every listed method of `prototype` pass its rejection through `translate` (bound to the
 * instance). One place instead of a try/catch in each public method of the bus.
 */
export function translateRejections<T extends object>(prototype: T, methods: readonly (keyof T & string)[], translate: (self: T, error: unknown) => unknown): void {
  for (const name of methods) {
    const original = prototype[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    Object.defineProperty(prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: T, ...args: unknown[]): Promise<unknown> {
        return original.apply(this, args).catch((error: unknown) => {
          throw translate(this, error);
        });
      },
    });
  }
}
