/**
 * Keeps the conformance suite's contract table honest: every sentence of the doc comments in
 * bus-core's `bus.ts` has a row in packages/bus-conformance/README.md, every row names at least one
 * test, and every test it names exists in the suite's sources (by its exact title).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './workspace.ts';

const busFile = join(repoRoot, 'packages/bus-core/src/bus.ts');
const readme = join(repoRoot, 'packages/bus-conformance/README.md');
const suitesDir = join(repoRoot, 'packages/bus-conformance/src/suites');

/** The sentences of every doc comment but the module's own, whitespace folded. */
export function contractSentences(source: string): string[] {
  const blocks = [...source.matchAll(/\/\*\*([\s\S]*?)\*\//g)].map((m) =>
    (m[1] ?? '')
      .split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  // A sentence ends at . ! ? followed by a space and a capital, a backtick or a parenthesis.
  return blocks.slice(1).flatMap((block) => block.split(/(?<=[.!?])\s+(?=[A-Z`(])/));
}

/** The table between the contract-map markers: sentence -> test titles. */
export function contractRows(markdown: string): Array<{ sentence: string; tests: string[] }> {
  const start = markdown.indexOf('<!-- contract-map:start -->');
  const end = markdown.indexOf('<!-- contract-map:end -->');
  if (start < 0 || end < start) throw new Error('README.md has no contract-map markers');
  return markdown
    .slice(start, end)
    .split('\n')
    .filter((line) => /^\|\s*\d+\s*\|/.test(line))
    .map((line) => {
      const cells = line.split(' | ');
      const sentence = (cells[2] ?? '').trim();
      const tests = [...(cells[3] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
      return { sentence, tests };
    });
}

/** Titles of every `it(...)`, `it.skipIf(...)(...)`, `it.each(...)(...)` in the suite sources. */
export function suiteTestTitles(dir: string): Set<string> {
  const titles = new Set<string>();
  const call = /\bit(?:\.\w+\([^()]*(?:\([^()]*\))?[^()]*\))?\(\s*(['"`])((?:\\.|(?!\1)[\s\S])*?)\1/g;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const m of source.matchAll(call)) titles.add((m[2] ?? '').replace(/\\(.)/g, '$1'));
  }
  return titles;
}

describe('conformance contract map', () => {
  const sentences = contractSentences(readFileSync(busFile, 'utf8'));
  const rows = contractRows(readFileSync(readme, 'utf8'));
  const titles = suiteTestTitles(suitesDir);

  it('reads the contract and the suite (the parsers found something)', () => {
    expect(sentences.length).toBeGreaterThan(40);
    expect(titles.size).toBeGreaterThan(50);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('every sentence of bus.ts doc comments has a row in the conformance README', () => {
    const mapped = new Set(rows.map((r) => r.sentence));
    const unmapped = sentences.filter((s) => !mapped.has(s));
    expect(unmapped, 'add these bus.ts sentences to packages/bus-conformance/README.md (contract-map table) with the tests that check them').toEqual([]);
  });

  it('every row names at least one test, and every named test exists in the suite', () => {
    expect(rows.filter((r) => r.tests.length === 0).map((r) => r.sentence)).toEqual([]);
    const missing = rows.flatMap((r) => r.tests.filter((t) => !titles.has(t)).map((t) => `${t}  (for: ${r.sentence})`));
    expect(missing, 'tests named in the contract table that packages/bus-conformance/src/suites does not have').toEqual([]);
  });

  it('no row is left over from a sentence bus.ts no longer has', () => {
    const current = new Set(sentences);
    expect(rows.map((r) => r.sentence).filter((s) => !current.has(s))).toEqual([]);
  });
});
