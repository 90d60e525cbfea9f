import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A running Azurite (blob and table), private to whoever started it. */
export interface Azurite {
  /** Account connection string with explicit endpoints, for the well-known public development account. */
  connectionString: string;
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  tableEndpoint: string;
  blobEndpoint: string;
  /** Kills Azurite, waits for it to exit and deletes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
// Azurite's documented development key: public, accepted only by the emulator.
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const START_TIMEOUT_MS = 20_000;

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
  if (options.location !== undefined) await mkdir(options.location, { recursive: true });
  const child = spawn(
    process.execPath,
    [
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
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // If the test worker exits without calling stop(), do not leave Azurite behind.
  const killOnExit = () => child.kill('SIGKILL');
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
      // In-memory data needs no graceful shutdown, and SIGTERM waits for clients' keep-alive sockets to close.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      if (options.location === undefined) await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const { blob, table } = await listeningPorts(child);
    const blobEndpoint = `http://127.0.0.1:${blob}/${ACCOUNT}`;
    const tableEndpoint = `http://127.0.0.1:${table}/${ACCOUNT}`;
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};TableEndpoint=${tableEndpoint};`;
    return { connectionString, tableEndpoint, blobEndpoint, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Reads Azurite's output until both services report their port, or fails with the output so far. */
function listeningPorts(child: ChildProcess): Promise<{ blob: number; table: number }> {
  return new Promise((resolve, reject) => {
    let output = '';
    const ports: { blob?: number; table?: number } = {};
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
      else resolve({ blob: ports.blob as number, table: ports.table as number });
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const match of output.matchAll(/Azurite (Blob|Table) service is successfully listening at \S+:(\d+)/g)) {
        ports[match[1] === 'Blob' ? 'blob' : 'table'] = Number(match[2]);
      }
      if (ports.blob !== undefined && ports.table !== undefined) finish();
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
