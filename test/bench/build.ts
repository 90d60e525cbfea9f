import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../helpers/localHost.js';

/** The compiled loader of the local host (`loadApp`, standing in for the Functions host): cold starts load apps with it. */
export const COMPILED_LOADER = join(REPO_ROOT, 'dist', 'tools', 'localhost', 'registrations.js');

/** The compiled app is missing: the benchmark measures what `npm run build` produced and builds nothing itself. */
export class MissingBuildError extends Error {
  override readonly name = 'MissingBuildError';
}

/**
 * Throws {@link MissingBuildError} unless `dist/` holds the compiled loader and function entry points. The cold-start
 * and package-size figures are about the compiled app; building here would hide a stale or broken build.
 */
export function requireBuild(root: string = REPO_ROOT): void {
  const loader = join(root, 'dist', 'tools', 'localhost', 'registrations.js');
  const functions = join(root, 'dist', 'functions');
  const hasFunctions = existsSync(functions) && readdirSync(functions).some((name) => name.endsWith('.js'));
  if (!existsSync(loader) || !hasFunctions) {
    throw new MissingBuildError(
      `The compiled app is missing (${relative(root, existsSync(loader) ? functions : loader)}). ` +
        'Run "npm run build" first: the benchmark measures dist/ and builds nothing itself.',
    );
  }
}

/**
 * The sources under `functions/` and `shared/` whose compiled file is missing or older than they are: figures from
 * such a dist/ are not the current code's, so the benchmark warns.
 */
export function staleSources(root: string = REPO_ROOT): string[] {
  const stale: string[] = [];
  for (const folder of ['functions', 'shared', 'tools']) {
    for (const source of typeScriptFiles(join(root, folder))) {
      const compiled = join(root, 'dist', relative(root, source)).replace(/\.ts$/, '.js');
      if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
        stale.push(relative(root, source));
      }
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
