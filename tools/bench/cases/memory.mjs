#!/usr/bin/env node
/** The memory case: bus-memory's own benchmark (packages/bus-memory/bench), run from here. */
await import('../../../packages/bus-memory/bench/throughput.mjs');
