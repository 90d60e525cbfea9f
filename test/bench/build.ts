import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { APP_DIR, ENTRY_FILE } from '../../tools/bundle/bundle.js';
import { REPO_ROOT } from '../helpers/localHost.js';

/** The compiled loader of the local host (`loadApp`, standing in for the Functions host): cold starts load apps with it. */
export const COMPILED_LOADER = join(REPO_ROOT, 'dist', 'tools', 'localhost', 'registrations.js');
/** The deployment package `npm run build` bundles: what azd deploys, and what cold start and size measure. */
export const APP_PACKAGE = join(REPO_ROOT, APP_DIR);

/** The compiled app is missing: the benchmark measures what `npm run build` produced and builds nothing itself. */
export class MissingBuildError extends Error {
  override readonly name = 'MissingBuildError';
}

/**
 * Throws {@link MissingBuildError} unless `dist/` holds the compiled loader and the bundle's entry file.
 * The cold-start and package-size figures are about the package that ships; building here would hide a stale or
 * broken build.
 */
export function requireBuild(root: string = REPO_ROOT): void {
  const loader = join(root, 'dist', 'tools', 'localhost', 'registrations.js');
  const entry = join(root, APP_DIR, ENTRY_FILE);
  if (!existsSync(loader) || !existsSync(entry)) {
    throw new MissingBuildError(
      `The built app is missing (${relative(root, existsSync(loader) ? entry : loader)}). ` +
        'Run "npm run build" first: the benchmark measures dist/ and builds nothing itself.',
    );
  }
}

/**
 * The sources under `functions/` and `shared/` that changed since the build: newer than the bundle (its
 * package.json, written last), or, for `shared/`, than their compiled file (the local host's loader comes from
 * there). Figures from such a build are not the current code's, so the benchmark warns.
 */
export function staleSources(root: string = REPO_ROOT): string[] {
  const manifest = join(root, APP_DIR, 'package.json');
  const bundledAt = existsSync(manifest) ? statSync(manifest).mtimeMs : 0;
  const stale: string[] = [];
  for (const folder of ['functions', 'shared', 'tools']) {
    for (const source of typeScriptFiles(join(root, folder))) {
      const changedAt = statSync(source).mtimeMs;
      const compiled = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
      const compiledStale = folder === 'shared' && (!existsSync(compiled) || statSync(compiled).mtimeMs < changedAt);
      if (changedAt > bundledAt || compiledStale) stale.push(relative(root, source));
    }
  }
  return stale;
}

function typeScriptFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(directory, name));
}
