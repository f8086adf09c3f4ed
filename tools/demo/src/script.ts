/**
 * What the demo's agent run says and does: the events it emits (typed for the events bridge), the
 * question, the tool's messy output that a pipe cleans up, and how the answer is cut into chunks.
 * Deterministic, so the demo's tests can check every chunk.
 */

export const COMPONENTS = { input: 'input', agent: 'agent', output: 'output', hooks: 'hooks' } as const;

/** The point-to-point message from input to agent. */
export const QUESTION_EVENT = 'input.question';

/** Events that travel to the hooks (pub_sub through `MessageBusEventManager`). */
export interface DemoEvents {
  'input.received': { session_id: string; question: string };
  'agent.thinking': { session_id: string; step: string };
  'tool.result': { session_id: string; tool: string; output: string; rewritten_by?: string };
  'agent.answered': { session_id: string; stream_id: string; chunks: number };
  'output.rendered': { session_id: string; text: string; chunks: number };
}
export type DemoEvent = keyof DemoEvents;

export const DEMO_EVENTS: readonly DemoEvent[] = ['input.received', 'agent.thinking', 'tool.result', 'agent.answered', 'output.rendered'];

export const QUESTION = 'How tall is the Eiffel Tower?';

/** What the "search" tool returns: messy on purpose, so the pipe has something to rewrite. */
export const RAW_TOOL_OUTPUT = '   The Eiffel Tower   is 330 metres\ttall.  ';

/** The pipe on `tool.result`: collapses whitespace and says so. Returns a new payload. */
export function normalizeToolResult(payload: DemoEvents['tool.result']): DemoEvents['tool.result'] {
  return { ...payload, output: payload.output.trim().replace(/\s+/g, ' '), rewritten_by: 'normalize-whitespace' };
}

/** The answer, from the (piped) tool output, cut into word chunks that concatenate back to it. */
export function answerChunks(toolOutput: string): string[] {
  const answer = `According to search: ${toolOutput} (answered by the demo agent)`;
  return answer.match(/\S+\s*/g) ?? [answer];
}

/** The hook that always fails, so its message ends in the dead-letter queue. */
export const FAILING_HOOK = { event: 'tool.result', name: 'audit', error: 'audit service unreachable' } as const;
