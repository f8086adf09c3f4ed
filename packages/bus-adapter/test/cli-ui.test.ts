/**
 * `woodwork-bus ui`: the CLI loads @woodwork/bus-dashboard by name, prints the link with its token,
 * serves until interrupted, and says what to install when the package is missing.
 */
import { createMessageBus, type MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../src/cli/run-cli.js';
import { DashboardNotInstalledError, loadDashboard, runUi } from '../src/cli/ui-command.js';

class Capture {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

let bus: MemoryMessageBus;
beforeEach(() => {
  bus = createMessageBus({ closeTimeoutMs: 100 });
});
afterEach(async () => {
  await bus.close();
});

function startUi(argv: string[], env: Record<string, string> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const done = runCli(['ui', ...argv], { env, stdout, stderr, createBus: () => bus, signal: controller.signal });
  const url = vi.waitFor(
    () => {
      const line = stdout.text.split('\n')[0] ?? '';
      if (!line.startsWith('http://')) throw new Error(`no link yet; stderr: ${stderr.text}`);
      return line;
    },
    { timeout: 15_000, interval: 10 },
  );
  return { stdout, stderr, done, url, stop: () => controller.abort() };
}

describe('woodwork-bus ui', () => {
  it('prints a link with a random token on 127.0.0.1, serves the dashboard over the bus, and stops cleanly on the signal', async () => {
    const ui = startUi(['--port', '0']);
    const url = new URL(await ui.url);
    expect(url.hostname).toBe('127.0.0.1');
    const token = url.searchParams.get('token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(new URL('/', url))).status).toBe(401);
    const overview = (await (await fetch(new URL('/api/overview', url), { headers: { Authorization: `Bearer ${token}` } })).json()) as { backend: string };
    expect(overview.backend).toBe('memory');
    expect(ui.stderr.text).toContain('dashboard over memory');
    ui.stop();
    expect(await ui.done).toBe(0);
    expect(ui.stderr.text).toContain('dashboard stopped');
    await expect(fetch(url)).rejects.toThrow();
    // The bus was handed over: still the caller's, still open.
    await bus.publish({ sessionId: 's', eventType: 'ui.after', componentSource: 'test', payload: {} });
  });

  it('takes the token from --token or WOODWORK_UI_TOKEN, and warns when it listens beyond this machine', async () => {
    const given = startUi(['--port', '0', '--token', 'a-token-given-on-the-line']);
    expect(new URL(await given.url).searchParams.get('token')).toBe('a-token-given-on-the-line');
    given.stop();
    expect(await given.done).toBe(0);
    const fromEnv = startUi(['--port', '0', '--host', '0.0.0.0'], { WOODWORK_UI_TOKEN: 'a-token-from-the-environment' });
    expect(new URL(await fromEnv.url).searchParams.get('token')).toBe('a-token-from-the-environment');
    expect(fromEnv.stderr.text).toMatch(/warning: listening on 0\.0\.0\.0, not only this machine/);
    fromEnv.stop();
    expect(await fromEnv.done).toBe(0);
  });

  it('bad options are usage errors (exit 2) or the dashboard\'s own config errors (exit 1), each naming the option', async () => {
    const run = async (argv: string[]) => {
      const stderr = new Capture();
      const code = await runCli(argv, { env: {}, stdout: new Capture(), stderr, createBus: () => bus });
      return { code, stderr: stderr.text };
    };
    expect(await run(['ui', '--port', 'eighty'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--port must be an integer from 0 to 65535') });
    expect(await run(['ui', '--port', '70000'])).toMatchObject({ code: 2 });
    expect(await run(['ui', '--session', 's'])).toMatchObject({ code: 2, stderr: expect.stringContaining('ui does not take --session') });
    expect(await run(['ui', 'extra'])).toMatchObject({ code: 2, stderr: expect.stringContaining('ui takes no arguments') });
    expect(await run(['ui', '--port', '0', '--token', 'short'])).toMatchObject({ code: 1, stderr: expect.stringContaining('token must be 16 to 256 characters') });
    expect(await run(['health', '--port', '1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('health does not take --port') });
  });

  it('says which package to install when @woodwork/bus-dashboard is missing; other import failures stay as they are', async () => {
    const missing = Object.assign(new Error("Cannot find package '@woodwork/bus-dashboard' imported from /app/node_modules/@woodwork/bus-adapter/dist/cli/ui-command.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = await loadDashboard(() => Promise.reject(missing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DashboardNotInstalledError);
    expect((error as Error).message).toBe('woodwork-bus ui needs the package @woodwork/bus-dashboard, which is not installed: run npm install @woodwork/bus-dashboard');
    expect((error as Error).cause).toBe(missing);
    const broken = new SyntaxError('Unexpected token');
    await expect(loadDashboard(() => Promise.reject(broken))).rejects.toBe(broken);
    await expect(loadDashboard(() => Promise.resolve({}))).rejects.toThrow(/does not export startDashboard/);
    const io = { out: new Capture(), err: new Capture(), signal: new AbortController().signal };
    await expect(runUi(bus, io, {}, () => Promise.reject(missing))).rejects.toBeInstanceOf(DashboardNotInstalledError);
  });
});
