import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What the local host takes from `local.settings.json` (or, without one, the sample's local defaults). */
export interface LocalSettings {
  /** The file the values came from. */
  source: string;
  values: Record<string, string>;
  port?: number;
}

/**
 * Reads `local.settings.json` like `func start` does, or `local.settings.sample.json` when there is none, so a fresh
 * clone runs with no set-up. `file` overrides the choice.
 */
export function readLocalSettings(appRoot: string, file?: string): LocalSettings {
  const candidates = file
    ? [file]
    : [join(appRoot, 'local.settings.json'), join(appRoot, 'local.settings.sample.json')];
  const source = candidates.find((candidate) => existsSync(candidate));
  if (!source) throw new Error(`No settings file found (looked for ${candidates.join(', ')}).`);
  let parsed: { Values?: Record<string, unknown>; Host?: { LocalHttpPort?: unknown } };
  try {
    parsed = JSON.parse(readFileSync(source, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new Error(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed.Values ?? {})) {
    if (value !== null && value !== undefined) values[name] = String(value);
  }
  const port = Number(parsed.Host?.LocalHttpPort);
  return { source, values, ...(Number.isInteger(port) && port > 0 ? { port } : {}) };
}

/**
 * Puts the settings into the environment, as the Functions host does; variables already set in the environment win,
 * so a one-off `PORT=8080 npm start` works. Empty values count as unset.
 */
export function applySettings(values: Record<string, string>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(values)) {
    if (env[name] === undefined && value.trim() !== '') env[name] = value;
  }
  // What Core Tools sets too: the app is running on a developer's machine (callbacks to localhost are allowed).
  env.AZURE_FUNCTIONS_ENVIRONMENT ??= 'Development';
}

/** Whether our storage must be provided locally: nothing configured, or the Azurite shorthand. */
export function needsEmbeddedStorage(env: NodeJS.ProcessEnv = process.env): boolean {
  const configured = env.BRIDGE_STORAGE_CONNECTION?.trim() || env.AzureWebJobsStorage?.trim();
  const identity = env.AzureWebJobsStorage__accountName || env.AzureWebJobsStorage__tableServiceUri;
  return !identity && (!configured || /^UseDevelopmentStorage=true$/i.test(configured));
}

/** The key function-level endpoints accept: `BRIDGE_LOCAL_KEY` when set, else a fresh random one per run. */
export function localKey(env: NodeJS.ProcessEnv = process.env): { key: string; generated: boolean } {
  const configured = env.BRIDGE_LOCAL_KEY?.trim();
  return configured
    ? { key: configured, generated: false }
    : { key: randomBytes(24).toString('base64url'), generated: true };
}

/**
 * The key the local host accepts when it is configured rather than generated: `BRIDGE_LOCAL_KEY` from the
 * environment, else from the settings file, read exactly as `npm start` reads them. Undefined when neither sets one
 * (the host then prints a key of its own). For `dataverse-bridge send`, so it needs no `--key` locally.
 *
 * @example
 * configuredLocalKey(appRoot('/repo/dist/tools/cli')); // the key in /repo/local.settings.json, if any
 */
export function configuredLocalKey(
  root: string,
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const merged = { ...env };
  applySettings(readLocalSettings(root, file).values, merged);
  const { key, generated } = localKey(merged);
  return generated ? undefined : key;
}

/** The nearest folder at or above `from` with a package.json: the app's root, compiled or not. */
export function appRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return dir;
}
