/**
 * `woodwork-bus ui [--port N] [--host H] [--token T]`: the web dashboard (overview, dead letters,
 * live tail) over the bus, until Ctrl-C / SIGTERM.
 *
 * The dashboard is its own package, `@woodwork/bus-dashboard`, loaded by name only when this
 * command runs (like the backends), so an app that never opens it installs nothing for it. When it
 * is not installed the command fails saying what to install.
 *
 * It listens on 127.0.0.1 unless `--host` says otherwise, and every request needs the token printed
 * here (random, or `--token` / WOODWORK_UI_TOKEN; the environment keeps it out of `ps`).
 */
import type { MessageBus } from '@woodwork/bus-core';
import { importModule, type ImportModule } from '../backend-loader.js';
import type { TextSink } from './output.js';

export const DASHBOARD_PACKAGE = '@woodwork/bus-dashboard';

/** What the CLI uses of the dashboard package (its own types stay in that package). */
interface DashboardModule {
  startDashboard(bus: MessageBus, options: { port?: number; host?: string; token?: string }): Promise<{ url: string; host: string; close(): Promise<void> }>;
}

export interface UiOptions {
  port?: number;
  host?: string;
  token?: string;
}

export interface UiIo {
  out: TextSink;
  err: TextSink;
  signal: AbortSignal;
}

/** The dashboard package is not installed. */
export class DashboardNotInstalledError extends Error {
  override readonly name = 'DashboardNotInstalledError';
  constructor(options?: { cause?: unknown }) {
    super(`woodwork-bus ui needs the package ${DASHBOARD_PACKAGE}, which is not installed: run npm install ${DASHBOARD_PACKAGE}`, options);
  }
}

export async function loadDashboard(load: ImportModule = importModule): Promise<DashboardModule> {
  let module: unknown;
  try {
    module = await load(DASHBOARD_PACKAGE);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const text = error instanceof Error ? error.message : String(error);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && text.includes(DASHBOARD_PACKAGE)) {
      throw new DashboardNotInstalledError({ cause: error });
    }
    throw error;
  }
  if (typeof (module as Partial<DashboardModule> | null)?.startDashboard !== 'function') {
    throw new Error(`${DASHBOARD_PACKAGE} does not export startDashboard(bus, options): is it an old or a different package?`);
  }
  return module as DashboardModule;
}

export async function runUi(bus: MessageBus, io: UiIo, options: UiOptions, load?: ImportModule): Promise<number> {
  const { startDashboard } = await loadDashboard(load);
  if (io.signal.aborted) return 0;
  const dashboard = await startDashboard(bus, options);
  try {
    // The link holds the token: printed as is (safeText would hide it as a secret query parameter).
    io.out.write(`${dashboard.url}\n`);
    io.err.write(`woodwork-bus: dashboard over ${bus.backend} at the link above (open it; every request needs its token); stop with Ctrl-C\n`);
    if (!isLoopback(dashboard.host)) {
      io.err.write(
        `woodwork-bus: warning: listening on ${dashboard.host}, not only this machine: anyone who reaches this port with the token can redrive and purge dead letters, and plain HTTP carries the token in clear (put a TLS proxy in front)\n`,
      );
    }
    // A backend without sockets (memory) holds no handle: keep the process alive until told to stop.
    const keepAlive = setInterval(() => {}, 2 ** 30);
    try {
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        else io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      clearInterval(keepAlive);
    }
  } finally {
    await dashboard.close();
  }
  io.err.write('woodwork-bus: dashboard stopped\n');
  return 0;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
