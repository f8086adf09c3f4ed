/**
 * Runs named scenarios against one backend, one after another, each on a fresh server of the
 * harness's own (or, for memory, fresh buses) and a fresh prefix.
 */
import { FAULT_SCENARIOS, type BusHarness, type FaultScenario } from '@woodwork/bus-conformance/harness';
import { withContext } from './context.js';
import { rowOf, type ScenarioRow } from './report.js';
import { SCENARIOS } from './scenarios/index.js';

export function isScenario(name: string): name is FaultScenario {
  return Object.hasOwn(FAULT_SCENARIOS, name);
}

/** The scenarios to run: those asked for (each must apply to the backend), else all that apply. */
export function pickScenarios(harness: BusHarness, asked: readonly string[]): FaultScenario[] {
  const applicable = harness.faultScenarios ?? [];
  if (asked.length === 0) return [...applicable];
  for (const name of asked) {
    if (!isScenario(name)) throw new Error(`unknown scenario "${name}"; known: ${Object.keys(FAULT_SCENARIOS).join(', ')}`);
    if (!applicable.includes(name)) throw new Error(`scenario "${name}" does not apply to ${harness.name}; it declares: ${applicable.join(', ') || 'none'}`);
  }
  return asked as FaultScenario[];
}

export async function runScenarios(harness: BusHarness, names: readonly FaultScenario[], options: { short: boolean; log: (line: string) => void }): Promise<ScenarioRow[]> {
  const rows: ScenarioRow[] = [];
  for (const name of names) {
    options.log(`${name}: ${FAULT_SCENARIOS[name]}${options.short ? ' (short form)' : ''}`);
    const outcome = await withContext(harness, options.short, options.log, (ctx) => SCENARIOS[name](ctx));
    rows.push(rowOf(name, outcome));
  }
  return rows;
}
