/** Every named fault scenario and the function that runs it. */
import type { FaultScenario } from '@woodwork/bus-conformance/harness';
import type { ScenarioContext, ScenarioOutcome } from '../context.js';
import { consumerKilled } from './consumer-killed.js';
import { leaderKilled } from './leader-killed.js';
import { serverDown, serverKill9, serverPaused, serverWiped } from './server-faults.js';
import { hotSession, poisonMessage, trimWhileLagging } from './workloads.js';

export const SCENARIOS: Record<FaultScenario, (ctx: ScenarioContext) => Promise<ScenarioOutcome>> = {
  'server-kill-9': serverKill9,
  'server-wiped': serverWiped,
  'server-paused': serverPaused,
  'server-down': serverDown,
  'consumer-killed': consumerKilled,
  'trim-while-lagging': trimWhileLagging,
  'poison-message': poisonMessage,
  'hot-session': hotSession,
  'leader-killed': leaderKilled,
};
