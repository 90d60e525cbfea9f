// One cold-start sample, run in a fresh Node process by coldStart.ts: loads an app's entry points the way the
// Functions host does (the local host's loader, standing in for @azure/functions-core) and prints one JSON line.
// Plain JavaScript on purpose: a TypeScript loader in this process would be timed along with the app.
//
// Usage: node --expose-gc loadAppChild.mjs <dist/tools/localhost/registrations.js> <appRoot> [--packages]
// With --packages it also records which npm packages the load pulled in (a resolve hook, so that run is not timed).

import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

const [loaderPath, appRoot, flag] = process.argv.slice(2);
if (!loaderPath || !appRoot) throw new Error('usage: loadAppChild.mjs <registrations.js> <appRoot> [--packages]');

/** The package a module URL or path belongs to: `@scope/name` or `name` after its last node_modules. */
function packageOf(location) {
  const match = /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\](?!.*[/\\]node_modules[/\\])/.exec(location);
  return match ? match[1].replace('\\', '/') : undefined;
}

const esmPackages = new Set();
let port;
if (flag === '--packages') {
  const channel = new MessageChannel();
  port = channel.port1;
  port.on('message', (url) => {
    const name = packageOf(url);
    if (name) esmPackages.add(name);
  });
  port.unref();
  const hook = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`, {
    data: { port: channel.port2 },
    transferList: [channel.port2],
  });
}

const { loadApp } = await import(pathToFileURL(loaderPath).href);
const start = performance.now();
const registrations = await loadApp(appRoot);
const loadMs = performance.now() - start;

// What the app keeps, not the garbage its loading left behind.
globalThis.gc?.();
const { heapUsed, rss } = process.memoryUsage();

let packages;
if (port) {
  // Let the hook thread's last messages arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const cjsPackages = Object.keys(Module._cache).map(packageOf).filter(Boolean);
  packages = [...new Set([...esmPackages, ...cjsPackages])].sort();
}

process.stdout.write(
  `${JSON.stringify({
    loadMs,
    heapUsed,
    rss,
    functions: registrations.map((r) => r.name),
    ...(packages ? { packages } : {}),
  })}\n`,
);
