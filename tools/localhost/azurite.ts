import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A running Azurite (blob, queue and table), private to whoever started it. */
export interface Azurite {
  /** Account connection string with explicit endpoints, for the well-known public development account. */
  connectionString: string;
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  tableEndpoint: string;
  blobEndpoint: string;
  queueEndpoint: string;
  /**
   * Stops Azurite and waits for it to exit. With a `location`, gracefully: Azurite closes its stores, which saves
   * them. In memory, it is killed and its directory deleted. Safe to call twice.
   */
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
// Azurite's documented development key: public, accepted only by the emulator.
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const START_TIMEOUT_MS = 20_000;
/** How long a graceful stop (or a previous Azurite on the same folder) may take before it is killed (or refused). */
const STOP_TIMEOUT_MS = 30_000;
/** In a persisted folder: the pid of the Azurite using it, so a second one waits instead of reading stale files. */
const PID_FILE = 'azurite.pid';

/**
 * Runs Azurite's own entry point (argv[1], its options after it) in a process that closes Azurite gracefully when its
 * IPC channel to the parent closes: on `stop()`, and also when the parent dies, even by SIGKILL. Azurite's graceful
 * close saves its stores; it saves them only every 5 seconds otherwise.
 */
const SUPERVISED_AZURITE = `
const [entry, ...rest] = process.argv.slice(1);
process.argv = [process.argv[0], entry, ...rest];
process.once('disconnect', () => {
  // Before Azurite listens there is nothing to save, and nobody to handle the signal.
  if (process.listenerCount('SIGTERM') === 0) process.exit(0);
  // A parent that died no longer reads the pipes: a write to one must not crash Azurite before it has saved.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  console.log = console.error = () => {};
  process.emit('SIGTERM', 'SIGTERM');
  setTimeout(() => process.exit(0), ${STOP_TIMEOUT_MS}).unref();
});
require(entry);
`;

/** Azurite's entry point, from the azurite npm package (a dev dependency: the local host and tests use it). */
function azuriteEntry(): string {
  return join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
}

/**
 * Starts Azurite on free ports and resolves once the blob and table services listen. In memory by default; with
 * `location`, its data is kept in that folder across runs.
 *
 * @example
 * let azurite: Azurite;
 * beforeAll(async () => { azurite = await startAzurite(); });
 * afterAll(() => azurite?.stop());
 */
export async function startAzurite(options: { location?: string } = {}): Promise<Azurite> {
  // Azurite refuses `--location` together with `--inMemoryPersistence`, so in memory a fresh directory is its working
  // directory instead: anything it writes lands there and is deleted by stop().
  const dir = options.location ?? (await mkdtemp(join(tmpdir(), 'azurite-')));
  const persistence = options.location === undefined ? ['--inMemoryPersistence'] : ['--location', options.location];
  if (options.location !== undefined) {
    await mkdir(options.location, { recursive: true });
    await waitForPreviousAzurite(options.location);
  }
  const child = spawn(
    process.execPath,
    [
      '-e',
      SUPERVISED_AZURITE,
      azuriteEntry(),
      ...persistence,
      '--blobPort',
      '0',
      '--queuePort',
      '0',
      '--tablePort',
      '0',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
      '--loose',
    ],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a terminal's Ctrl+C reaches the host, which stops Azurite after its own work is done.
      detached: process.platform !== 'win32',
    },
  );
  if (options.location !== undefined && child.pid !== undefined) {
    await writeFile(join(options.location, PID_FILE), String(child.pid));
  }
  // If the process exits without calling stop(), do not leave Azurite behind. In memory nothing is worth saving;
  // persisted, the IPC channel closes as this process exits, and Azurite saves and exits on its own.
  const killOnExit = () => {
    if (options.location === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('exit', () => resolve());
      // A process that failed to spawn emits 'error' and never 'exit'.
      child.once('error', () => resolve());
    }
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      const running = child.exitCode === null && child.signalCode === null;
      if (running && options.location === undefined) {
        // In-memory data needs no graceful shutdown.
        child.kill('SIGKILL');
      } else if (running) {
        // Closing the channel makes Azurite close its stores, which saves them; killing it would lose the last ~5 s.
        if (child.connected) child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await exited;
      if (options.location === undefined) await rm(dir, { recursive: true, force: true });
      else await rm(join(options.location, PID_FILE), { force: true });
    })();
    return stopped;
  };

  try {
    const { blob, queue, table } = await listeningPorts(child);
    const blobEndpoint = `http://127.0.0.1:${blob}/${ACCOUNT}`;
    const queueEndpoint = `http://127.0.0.1:${queue}/${ACCOUNT}`;
    const tableEndpoint = `http://127.0.0.1:${table}/${ACCOUNT}`;
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`;
    return { connectionString, tableEndpoint, blobEndpoint, queueEndpoint, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits for an Azurite that a previous run left on `location` (its host was killed hard, so it is still saving) to
 * exit, so this one does not start from files about to be rewritten. Fails if it is still there after the timeout.
 */
async function waitForPreviousAzurite(location: string): Promise<void> {
  const pid = Number(await readFile(join(location, PID_FILE), 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  for (let waited = 0; alive(); waited += 100) {
    if (waited >= STOP_TIMEOUT_MS) {
      throw new Error(`Another Azurite (process ${pid}) is still using ${location}; stop it, then start again.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads Azurite's output until the three services report their port, or fails with the output so far. */
function listeningPorts(child: ChildProcess): Promise<{ blob: number; queue: number; table: number }> {
  return new Promise((resolve, reject) => {
    let output = '';
    const ports: { blob?: number; queue?: number; table?: number } = {};
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      // Keep draining the pipes so Azurite never blocks on a full one.
      child.stdout?.resume();
      child.stderr?.resume();
      if (error) reject(error);
      else resolve({ blob: ports.blob as number, queue: ports.queue as number, table: ports.table as number });
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const match of output.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at \S+:(\d+)/g,
      )) {
        ports[(match[1] as string).toLowerCase() as 'blob' | 'queue' | 'table'] = Number(match[2]);
      }
      if (ports.blob !== undefined && ports.queue !== undefined && ports.table !== undefined) finish();
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(new Error(`Azurite exited before listening (code ${code}, signal ${signal}). Output:\n${output}`));
    const onError = (error: Error) => finish(new Error(`Azurite could not be started: ${error.message}`));
    const timer = setTimeout(
      () => finish(new Error(`Azurite did not start within ${START_TIMEOUT_MS / 1000} s. Output:\n${output}`)),
      START_TIMEOUT_MS,
    );
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
