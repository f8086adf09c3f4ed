/**
 * The workspace as the checks see it: the root, and every package under packages/ with its
 * manifest, split into published and private.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');
export const CORE = '@woodwork/bus-core';

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  license?: string;
  sideEffects?: boolean | string[];
  engines?: Record<string, string>;
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  files?: string[];
  bin?: Record<string, string> | string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  publishConfig?: Record<string, string>;
}

export interface WorkspacePackage {
  dir: string;
  /** Relative to the repository root, e.g. `packages/bus-core`. */
  path: string;
  manifest: Manifest;
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function packagesUnder(folder: string): WorkspacePackage[] {
  const base = join(repoRoot, folder);
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(base, entry.name, 'package.json')))
    .map((entry) => ({
      dir: join(base, entry.name),
      path: `${folder}/${entry.name}`,
      manifest: readJson<Manifest>(join(base, entry.name, 'package.json')),
    }))
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
}

export const packages = packagesUnder('packages');
export const tools = packagesUnder('tools');
export const published = packages.filter((p) => p.manifest.private !== true);
export const privatePackages = [...packages, ...tools].filter((p) => p.manifest.private === true);
export const ourNames = new Set([...packages, ...tools].map((p) => p.manifest.name));
