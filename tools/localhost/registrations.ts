import { readdir, readFile } from 'node:fs/promises';
import Module from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A function as the app registered it with `@azure/functions`: its metadata and the handler to call. */
export interface Registration {
  name: string;
  /** The trigger binding: `type` (`httpTrigger`, `serviceBusTrigger`, `eventGridTrigger`, …) and its options. */
  trigger: Record<string, unknown> & { type: string; name: string };
  /** Every binding by name, as the Functions host would receive them. */
  bindings: Record<string, Record<string, unknown>>;
  handler: (...args: unknown[]) => unknown;
}

interface CoreMetadata {
  name: string;
  bindings: Record<string, Record<string, unknown> & { type: string; direction: string }>;
}

const registrations: Registration[] = [];
let installed = false;

/**
 * Stands in for `@azure/functions-core`, the module the Functions Node.js worker provides: `@azure/functions`
 * requires it (lazily) and hands it every registration. Serving it from here is how the local host sees the app
 * exactly as the real host does, with no second list of functions to keep in step.
 */
function installCoreApi(): void {
  if (installed) return;
  installed = true;
  const coreApi = {
    registerFunction(metadata: CoreMetadata, handler: Registration['handler']) {
      const trigger = Object.values(metadata.bindings).find((b) => b.direction === 'in' && b.type.endsWith('Trigger'));
      if (!trigger) throw new Error(`Function ${metadata.name} has no trigger binding.`);
      registrations.push({
        name: metadata.name,
        trigger: trigger as unknown as Registration['trigger'],
        bindings: metadata.bindings,
        handler,
      });
      return { dispose() {} };
    },
    setProgrammingModel() {},
    getProgrammingModel() {
      return undefined;
    },
    registerHook() {
      return { dispose() {} };
    },
  };
  const moduleLoader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = moduleLoader._load;
  moduleLoader._load = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return coreApi;
    return load.call(this, request, ...rest);
  };
}

/**
 * The compiled entry points `package.json` `main` names (a path or a `dir/*.js` glob, as the Functions host reads
 * it), relative to `appRoot`.
 */
export async function entryPoints(appRoot: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(appRoot, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main)
    throw new Error(`package.json in ${appRoot} has no "main"; the Functions host needs it to find the app.`);
  const pattern = resolve(appRoot, pkg.main);
  const name = basename(pattern);
  if (!name.includes('*')) return [pattern];
  const matcher = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*')}$`);
  const dir = dirname(pattern);
  return (await readdir(dir))
    .filter((file) => matcher.test(file))
    .sort()
    .map((file) => join(dir, file));
}

/**
 * Loads the app's compiled entry points the way the Functions host does and returns what they registered.
 * Must run before anything else in the process calls `app.*` (the library remembers the first answer).
 */
export async function loadApp(appRoot: string): Promise<Registration[]> {
  installCoreApi();
  const files = await entryPoints(appRoot);
  if (files.length === 0) throw new Error(`No compiled functions found; run "npm run build" first.`);
  for (const file of files) await import(pathToFileURL(file).href);
  return [...registrations];
}
