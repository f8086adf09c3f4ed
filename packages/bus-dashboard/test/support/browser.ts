/**
 * One headless Chromium per test file, driven by playwright-core (which never downloads a browser):
 * Debian's `chromium` at /usr/bin/chromium, or CHROMIUM_PATH. When it is missing the tests fail and
 * say what to install; they are never skipped. Each launch gets a fresh profile (playwright makes a
 * new user-data-dir per launch), and the flags keep Chromium from calling out to the network.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumPath(): string {
  const path = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium is missing: the dashboard's browser tests drive a real headless Chromium and found none at ${path}. ` +
        "Install Debian's package (apt-get install -y chromium; .ci/run does this when it is missing) or set CHROMIUM_PATH to a Chromium binary.",
    );
  }
  return path;
}

let launched: Promise<Browser> | undefined;

/** The test file's browser, launched on first use. */
export function browser(): Promise<Browser> {
  launched ??= chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, timeout: 120_000 });
  return launched;
}

export async function closeBrowser(): Promise<void> {
  const pending = launched;
  launched = undefined;
  const b = await pending?.catch(() => undefined);
  await b?.close();
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors of the page (a CSP violation is one). */
  errors: string[];
}

/**
 * A fresh context and page at `url`. Before any script of the page runs, it starts recording
 * layout shifts (`window.__layoutShifts`) and CSP violations (`window.__cspViolations`).
 */
export async function openPage(url: string, viewport = { width: 1280, height: 800 }): Promise<OpenedPage> {
  const context = await (await browser()).newContext({ viewport });
  // Waits for evidence, not deadlines: on a busy 2-core machine Chromium can take many seconds to
  // paint (playwright's default is 30 s). The test timeout (vitest.config.ts) ends a real hang.
  context.setDefaultTimeout(90_000);
  context.setDefaultNavigationTimeout(90_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.addInitScript(() => {
    const w = window as unknown as { __layoutShifts: number[]; __cspViolations: string[] };
    w.__layoutShifts = [];
    w.__cspViolations = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.__layoutShifts.push((entry as unknown as { value: number }).value);
    }).observe({ type: 'layout-shift', buffered: true });
    document.addEventListener('securitypolicyviolation', (event) => w.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  await page.goto(url);
  return { context, page, errors };
}

/** Sum of the layout-shift values the page has reported so far. */
export function layoutShiftSum(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __layoutShifts: number[] }).__layoutShifts.reduce((a, b) => a + b, 0));
}

/**
 * Where a test saves the screenshot of a page. With UPDATE_SCREENSHOTS=1 (`npm run screenshots`)
 * that is docs/<name>.png, the files the README shows; otherwise a folder under the OS tmpdir, so a
 * test run never changes files of the repository.
 */
export function screenshotPath(name: string): string {
  if (process.env['UPDATE_SCREENSHOTS'] === '1') return fileURLToPath(new URL(`../../docs/${name}.png`, import.meta.url));
  const dir = join(tmpdir(), 'woodwork-bus-dashboard-screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}
