/**
 * The README's exporter snippets, run as written. Each test takes a code block from README.md,
 * changes only where it sends or serves (a local address instead of `collector:4318`, a free port
 * instead of 9464), and runs it in a child process. A prelude defines the snippet's placeholders
 * (`createMessageBus`, `config`: a memory bus). An epilogue publishes and handles one message.
 * - OTLP: a node:http OTLP/HTTP receiver (/v1/traces, /v1/metrics) must get the publish and process
 *   spans in one trace, under the snippet's `service.name`, and the design's metrics.
 * - Prometheus: a scrape of the exporter's /metrics must show what the README says it serves.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { afterAll, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}
interface Received {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

const received: Received[] = [];
const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || (req.url !== '/v1/traces' && req.url !== '/v1/metrics')) {
      res.writeHead(404).end();
      return;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: the assertion below then says what arrived.
    }
    received.push({ path: req.url, contentType: req.headers['content-type'], body });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

/** The first ```ts block after `heading` in the README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(`${packageDir}README.md`, 'utf8');
  const at = readme.indexOf(heading);
  expect(at, `README.md has "${heading}"`).toBeGreaterThanOrEqual(0);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(match, `a ts block after "${heading}"`).not.toBeNull();
  return match![1]!;
}

function spansOf(bodies: Received[]): { spans: OtlpSpan[]; serviceNames: unknown[] } {
  const spans: OtlpSpan[] = [];
  const serviceNames: unknown[] = [];
  for (const { body } of bodies) {
    for (const rs of (body as { resourceSpans?: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans ?? []) {
      serviceNames.push(rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue);
      for (const ss of rs.scopeSpans) spans.push(...ss.spans);
    }
  }
  return { spans, serviceNames };
}

function metricNamesOf(bodies: Received[]): Set<string> {
  const names = new Set<string>();
  for (const { body } of bodies) {
    for (const rm of (body as { resourceMetrics?: { scopeMetrics: { metrics: { name: string }[] }[] }[] }).resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) names.add(m.name);
    }
  }
  return names;
}

/** Runs `program` as an ES module in this package (so its imports resolve); returns its output. */
async function runModule(program: string): Promise<string> {
  const file = `${packageDir}test/.readme-snippet-${randomName('run')}.mjs`;
  writeFileSync(file, program);
  try {
    const child = spawn(process.execPath, [file], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // A hang guard, not a timing: the child is killed (and the test fails) only if it never ends.
    const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve)).finally(() => clearTimeout(guard));
    expect(code, `the snippet failed:\n${output}`).toBe(0);
    return output;
  } finally {
    rmSync(file, { force: true });
  }
}

const PRELUDE = [
  "import { MemoryMessageBus } from '@woodwork/bus-memory';",
  'const createMessageBus = async (options) => new MemoryMessageBus(options);',
  'const config = {};',
];

it("the README's OTLP snippet exports the bus's spans and metrics to an OTLP/HTTP receiver", async () => {
  const snippet = readmeBlock('To an OTLP collector');
  expect(snippet).toContain('http://collector:4318/v1/traces');
  await runModule(
    [
      ...PRELUDE,
      // The snippet's imports go first in a module; everything else of it runs as written.
      snippet.replaceAll('http://collector:4318', origin),
      'let handled = false;',
      "await bus.subscribe('order.placed', () => { handled = true; }, { componentId: 'billing' });",
      "await bus.publish({ sessionId: 's1', eventType: 'order.placed', componentSource: 'shop', payload: { n: 1 } });",
      'while (!handled) await new Promise((r) => setTimeout(r, 10));',
      // Flushed while the bus is open: its observable instruments read healthCheck() at collection.
      'await trace.getTracerProvider().getDelegate().forceFlush();',
      'await metrics.getMeterProvider().forceFlush();',
      'await bus.close();',
      'process.exit(0);',
    ].join('\n'),
  );

  await waitFor(() => received.some((r) => r.path === '/v1/traces') && received.some((r) => r.path === '/v1/metrics'), 'spans and metrics at the receiver');
  const traces = received.filter((r) => r.path === '/v1/traces');
  expect(traces.every((r) => r.contentType?.startsWith('application/json')), 'the -http exporters send OTLP JSON').toBe(true);
  const { spans, serviceNames } = spansOf(traces);
  expect(new Set(serviceNames)).toEqual(new Set(['planner']));
  const publish = spans.find((s) => s.name === 'publish order.placed');
  const processSpan = spans.find((s) => s.name === 'process order.placed');
  expect(publish, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
  expect(processSpan).toBeDefined();
  expect(processSpan!.traceId).toBe(publish!.traceId);
  expect(processSpan!.parentSpanId).toBe(publish!.spanId);

  const names = metricNamesOf(received.filter((r) => r.path === '/v1/metrics'));
  for (const name of ['message_bus.messages_published_total', 'message_bus.messages_consumed_total', 'messaging.process.duration', 'messaging.client.operation.duration']) {
    expect(names.has(name), `${name} among ${[...names].join(', ')}`).toBe(true);
  }
});

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

it("the README's Prometheus snippet serves the bus's metrics as the README describes", async () => {
  const snippet = readmeBlock('To Prometheus');
  expect(snippet).toContain('port: 9464');
  const port = await freePort();
  const output = await runModule(
    [
      ...PRELUDE,
      snippet.replace('port: 9464', `port: ${port}`),
      'let handled = false;',
      "await bus.subscribe('agent.thought', () => { handled = true; }, { componentId: 'planner' });",
      "await bus.publish({ sessionId: 's1', eventType: 'agent.thought', componentSource: 'ui', payload: {} });",
      'while (!handled) await new Promise((r) => setTimeout(r, 10));',
      // The exporter starts its server without a callback here: scrape until it answers.
      'let text;',
      'for (;;) {',
      `  try { const res = await fetch('http://127.0.0.1:${port}/metrics'); if (res.ok) { text = await res.text(); break; } } catch {}`,
      '  await new Promise((r) => setTimeout(r, 50));',
      '}',
      "process.stdout.write('-----BEGIN SCRAPE-----\\n' + text + '\\n-----END SCRAPE-----\\n');",
      'await bus.close();',
      'await prometheus.shutdown();',
      'process.exit(0);',
    ].join('\n'),
  );
  const scrape = /-----BEGIN SCRAPE-----\n([\s\S]*)\n-----END SCRAPE-----/.exec(output)?.[1];
  expect(scrape, output).toBeDefined();
  // What the README says: dots become underscores, one `_total`, names kept, a `# UNIT` line, labels.
  expect(scrape).toMatch(/^message_bus_messages_published_total\{[^}]*messaging_system="memory"[^}]*\} 1$/m);
  expect(scrape).not.toContain('_total_total');
  expect(scrape).toMatch(/^message_bus_group_lag\{/m);
  expect(scrape).toMatch(/^messaging_process_duration_bucket\{[^}]*le="0\.001"/m);
  expect(scrape).toMatch(/^# UNIT /m);
  expect(scrape).toContain('messaging_consumer_group_name="planner~agent~thought"');
  expect(scrape).toContain('woodwork_group_kind="durable"');
});
