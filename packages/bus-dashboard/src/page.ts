/**
 * The page: `static/index.html` with `static/dashboard.css` and `static/dashboard.js` put inside
 * it (plain files shipped with the package, no build step), under a Content-Security-Policy that
 * lets only that one style and that one script run: a nonce fresh for every answer, no inline
 * handlers, no other origin. So even text that slipped into the DOM as HTML could not run a script;
 * the page never does that anyway (it writes data with `textContent` only).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { SECURITY_HEADERS } from './http-io.js';

export interface PageFiles {
  index: string;
  locked: string;
  style: string;
  script: string;
}

/** `static/` next to `src/` and `dist/`, so it is found from both. */
const STATIC_DIR = new URL('../static/', import.meta.url);

export async function loadPageFiles(): Promise<PageFiles> {
  const read = (name: string): Promise<string> => readFile(new URL(name, STATIC_DIR), 'utf8');
  const [index, locked, style, script] = await Promise.all([read('index.html'), read('locked.html'), read('dashboard.css'), read('dashboard.js')]);
  return { index, locked, style, script };
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (match, name: string) => values[name] ?? match);
}

function policy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function sendHtml(response: ServerResponse, status: number, html: string, nonce: string): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Content-Security-Policy': policy(nonce),
  });
  response.end(html);
}

/** The dashboard itself (the token was right). */
export function sendPage(response: ServerResponse, files: PageFiles, settings: { csrfToken: string; refreshMs: number }): void {
  const nonce = randomBytes(18).toString('base64');
  const html = fill(files.index, {
    NONCE: nonce,
    CSRF_TOKEN: settings.csrfToken,
    REFRESH_MS: String(settings.refreshMs),
    STYLE: files.style,
    SCRIPT: files.script,
  });
  sendHtml(response, 200, html, nonce);
}

/** 401: a page that asks for the token (it holds no data). */
export function sendLocked(response: ServerResponse, files: PageFiles): void {
  const nonce = randomBytes(18).toString('base64');
  sendHtml(response, 401, fill(files.locked, { NONCE: nonce, STYLE: files.style }), nonce);
}
