import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLocalSettings } from '../../tools/localhost/settings.js';
import { REPO_ROOT } from '../helpers/localHost.js';
import { COMPILED_LOADER } from './build.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The baseline app: one HTTP function on `@azure/functions`, nothing else. */
export const BARE_APP = join(here, 'bareApp');
const CHILD = join(here, 'loadAppChild.mjs');

/** One app load in a fresh Node process. */
export interface LoadSample {
  /** `loadApp(appRoot)`: from just before the first entry point is imported to after the last. */
  loadMs: number;
  /** From spawning the process to its exit, as the parent saw it: Node's boot, the load, and shutting down. */
  processMs: number;
  /** Heap in use after the load, after a full GC: what the app keeps. */
  heapUsed: number;
  /** Resident set size after the load. */
  rss: number;
  /** The functions the app registered. */
  functions: string[];
  /** With `packages`: the npm packages the load pulled in, sorted. */
  packages?: string[];
}

/**
 * The settings an app needs to pass its start-up validation (`getConfig()`): the non-empty values of
 * `local.settings.sample.json`, as `npm start` would use them. Nothing else from this process's environment is
 * passed on, so a developer's settings or `NODE_OPTIONS` (tsx's loader) cannot change the figure.
 */
export function appSettings(root: string = REPO_ROOT): Record<string, string> {
  const { values } = readLocalSettings(root, join(root, 'local.settings.sample.json'));
  // Empty values count as unset, as the local host's applySettings has it.
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value.trim() !== ''));
}

/**
 * Loads the app at `appRoot` in a fresh Node process the way the Functions host does: the compiled local-host loader
 * stands in for `@azure/functions-core` and imports every file `package.json` `main` names. Requires `dist/` (see
 * `requireBuild`); ours is the bundle, `APP_PACKAGE`. With `packages`, also lists the npm packages loaded from a
 * node_modules folder (that run is slower, so not for timing).
 *
 * @example
 * const bare = await loadInFreshProcess(BARE_APP);
 * bare.functions; // ['hello']
 */
export function loadInFreshProcess(appRoot: string, { packages = false } = {}): Promise<LoadSample> {
  const args = ['--expose-gc', CHILD, COMPILED_LOADER, appRoot, ...(packages ? ['--packages'] : [])];
  const env: Record<string, string> = { ...appSettings() };
  for (const name of ['PATH', 'SystemRoot']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { cwd: appRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const processMs = performance.now() - start;
      if (code !== 0) {
        reject(new Error(`Loading ${appRoot} failed (exit code ${code}):\n${stderr.trim()}`));
        return;
      }
      resolve({ ...(JSON.parse(stdout) as Omit<LoadSample, 'processMs'>), processMs });
    });
  });
}
