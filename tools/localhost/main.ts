#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { type Azurite, startAzurite } from './azurite.js';
import { LocalFanOut } from './localFanOut.js';
import { queueSettings, startQueueTriggers } from './queues.js';
import { loadApp, type Registration } from './registrations.js';
import { createLocalHostServer } from './server.js';
import { applySettings, localKey, needsEmbeddedStorage, readLocalSettings } from './settings.js';
import { startTimers } from './timers.js';

const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The bundle `npm run build` writes: the very package azd deploys. */
const PACKAGE_ROOT = join(APP_ROOT, 'dist', 'app');

const program = new Command()
  .name('npm start --')
  .description(
    'Runs Dataverse Bridge locally the way the Azure Functions host does: no Azure account, Core Tools or Docker.',
  )
  .option('--port <port>', 'HTTP port (default: PORT, then Host.LocalHttpPort in the settings, then 7071)', parsePort)
  .option('--settings <file>', 'settings file (default: local.settings.json, else local.settings.sample.json)')
  .option(
    '--persist [dir]',
    'keep the embedded Azurite data across runs, in dir (default: .azurite/ in the repository; without --persist: in memory)',
  )
  .addHelpText(
    'after',
    `
Storage: when AzureWebJobsStorage is unset or "UseDevelopmentStorage=true", an embedded Azurite is started on free
ports and stopped on exit. Event Grid: when EVENTGRID_TOPIC_ENDPOINT is unset, events are delivered in-process to the
app's Event Grid-triggered functions and listed at GET /admin/events. Timer triggers run on their schedules; Storage
Queue triggers poll their queue as host.json extensions.queues says.`,
  )
  .parse();

const options = program.opts<{ port?: number; settings?: string; persist?: boolean | string }>();
const persistDir =
  options.persist === undefined || options.persist === false
    ? undefined
    : options.persist === true
      ? join(APP_ROOT, '.azurite')
      : resolve(options.persist);

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number.');
  return port;
}

const log = (line: string) => console.log(line);
const settings = readLocalSettings(APP_ROOT, options.settings);
applySettings(settings.values);

let azurite: Azurite | undefined;
if (needsEmbeddedStorage()) {
  azurite = await startAzurite(persistDir ? { location: persistDir } : {});
  process.env.AzureWebJobsStorage = azurite.connectionString;
}

let registrations: Registration[] = [];
const fanOut = new LocalFanOut(() => registrations, log);
if (!process.env.EVENTGRID_TOPIC_ENDPOINT?.trim()) {
  // Handed over through a process-wide key that the bundle's copy of the runtime module reads.
  const { useLocalFanOut } = await import('../../shared/runtime.js');
  useLocalFanOut(fanOut);
}

// A bundle built with source maps (npm run build:bundle -- --sourcemap): stack traces then point into the TypeScript.
if (existsSync(join(APP_ROOT, 'dist', 'app-sourcemaps'))) process.setSourceMapsEnabled(true);

try {
  registrations = await loadApp(PACKAGE_ROOT);
} catch (error) {
  console.error(`The app did not start: ${(error as Error).message}`);
  await azurite?.stop();
  process.exit(1);
}

const { key, generated } = localKey();
// The connector operations' declared body limits, from the compiled tree the functions use.
const { bodyLimits } = await import('../../shared/connector/operations.js');
const server = createLocalHostServer({ registrations, key, fanOut, log, bodyLimits: bodyLimits() });
const port = options.port ?? (process.env.PORT ? parsePort(process.env.PORT) : (settings.port ?? 7071));
server.on('error', async (error: NodeJS.ErrnoException) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `Port ${port} is in use; choose another with --port.`
      : `Server error: ${error.message}`,
  );
  await azurite?.stop();
  process.exit(1);
});
let timers: ReturnType<typeof startTimers> | undefined;
let queues: ReturnType<typeof startQueueTriggers> | undefined;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  printBanner(`http://localhost:${actualPort}`);
  // Timer functions run on their schedules once the host serves requests, as under the Functions host.
  timers = startTimers(registrations, log);
  for (const { name, schedule, next } of timers.schedules) {
    console.log(`Timer:      ${name} on "${schedule}", next at ${next?.toISOString() ?? 'never'}`);
  }
  // Queue triggers poll their queues with the package's host.json settings (extensions.queues), as the host does.
  const hostJson = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'host.json'), 'utf8')) as unknown;
  queues = startQueueTriggers(registrations, log, queueSettings(hostJson));
  for (const { name, queue } of queues.served) console.log(`Queue:      ${name} polls queue "${queue}"`);
});

function printBanner(base: string): void {
  const lines = ['', 'Dataverse Bridge is running locally.', '', 'Functions:'];
  const width = Math.max(...registrations.map((r) => r.name.length));
  for (const r of registrations) {
    const t = r.trigger;
    const what =
      t.type === 'httpTrigger'
        ? `${((t.methods as string[] | undefined) ?? ['GET', 'POST']).join(',')} ${base}/api/${String(t.route ?? r.name)}  [${String(t.authLevel ?? 'function')}]`
        : `${t.type}: POST ${base}/admin/functions/${r.name} with {"input": …}`;
    lines.push(`  ${r.name.padEnd(width)}  ${what}`);
  }
  lines.push(
    '',
    // A key the user configured is a secret of theirs: it is not printed. A generated one lives for this run only.
    generated
      ? `Key:        ${key}  (generated for this run; set BRIDGE_LOCAL_KEY in local.settings.json to keep one)`
      : 'Key:        BRIDGE_LOCAL_KEY from the settings (not printed)',
    '            send it as ?code=<key> or the x-functions-key header',
    `Settings:   ${settings.source}`,
    `Storage:    ${azurite ? `embedded Azurite (${persistDir ? `data in ${persistDir}` : 'in memory'}), tables ${azurite.tableEndpoint}` : 'as configured (AzureWebJobsStorage)'}`,
    `Event Grid: ${process.env.EVENTGRID_TOPIC_ENDPOINT?.trim() ? process.env.EVENTGRID_TOPIC_ENDPOINT : `local fan-out; published events at ${base}/admin/events`}`,
    '',
    `Try:        npx dataverse-bridge send samples/contexts --to ${base} --key ${generated ? key : '<BRIDGE_LOCAL_KEY>'}`,
    'Press Ctrl+C to stop.',
    '',
  );
  console.log(lines.join('\n'));
}

/** How long requests in flight may take to finish when the host stops. */
const DRAIN_MS = 10_000;

let stopping = false;
/**
 * Stops in order: no new requests, the ones in flight finish (they may still be writing), then Azurite closes its
 * stores gracefully, which saves them, so nothing acknowledged is lost.
 */
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${reason}: stopping…`);
  timers?.stop();
  const polling = queues?.stop();
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  const drain = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
  await closed;
  clearTimeout(drain);
  await polling;
  await azurite?.stop();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

// `npm start` runs this through a shell: when npm is sent SIGTERM (an IDE's stop button, a process manager), npm and
// the shell exit, but the shell does not pass the signal on, and this process would run on as an orphan holding the
// port and Azurite. An orphan is re-parented, so a changed parent process id means whoever started the host is gone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown('the process that started the local host exited');
}, 500).unref();
