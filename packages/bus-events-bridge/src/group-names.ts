/**
 * Names of the durable groups that carry hooks over the bus. Replicas of one app must compute the
 * same name for the same hook (so they share its work) and different hooks must never share one
 * (or each would see only part of the messages), so the name is built only from the app's
 * component id, the event and the hook's name, plus a hash of the three: the readable part maps
 * `.` to `_` and may be cut to fit, the hash keeps `a.b` and `a_b` (or two long names) apart.
 */
import { createHash } from 'node:crypto';

export interface HookGroupInfo {
  /** The app / component id given to the manager. */
  componentId: string;
  event: string;
  /** The hook's name: the one given when it was added, else `h<index>`. */
  hookName: string;
}

/** Group names follow core's name rule: 1-128 letters, digits, `_` or `-`. */
export const MAX_GROUP_NAME_LENGTH = 128;
const HASH_LENGTH = 8;

/** `<componentId>-hook-<event with . as _>-<hookName>-<hash8>`, at most 128 characters. */
export function defaultHookGroupName({ componentId, event, hookName }: HookGroupInfo): string {
  const hash = createHash('sha256').update(`${componentId}\u0000${event}\u0000${hookName}`).digest('hex').slice(0, HASH_LENGTH);
  const readable = `${componentId}-hook-${event.replaceAll('.', '_')}-${hookName}`;
  return `${readable.slice(0, MAX_GROUP_NAME_LENGTH - HASH_LENGTH - 1)}-${hash}`;
}
