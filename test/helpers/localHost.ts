import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(REPO_ROOT, 'dist', 'tools', 'localhost', 'main.js');
const CLI = join(REPO_ROOT, 'dist', 'tools', 'cli', 'main.js');

/**
 * Every function the app registers when no Service Bus topic is configured (the sample settings, and the settings
 * {@link startLocalHost} writes): all of them but `dataverseTopic`. Written out by hand, sorted.
 */
export const FUNCTIONS_WITHOUT_TOPIC = [
  'createDataverseRow',
  'createSubscription',
  'dataverseQueue',
  'dataverseWebhook',
  'deleteDataverseRow',
  'deleteSubscription',
  'deliverSubscriptions',
  'getDataverseRow',
  'getDataverseTableSchema',
  'getJob',
  'getRow',
  'health',
  'listChanges',
  'listDataverseColumns',
  'listDataverseRows',
  'listDataverseTables',
  'listJobs',
  'listSubscriptions',
  'listTables',
  'openApiDefinition',
  'projectChanges',
  'publishEvent',
  'reconcileChanges',
  'replayJob',
  'updateDataverseRow',
  'verifyHeld',
];

export interface RunningHost {
  url: string;
  key: string;
  output(): string;
  /** Sends SIGINT (Ctrl+C) and resolves with the exit code. */
  stop(): Promise<number | null>;
  /**
   * Sends `signal` (SIGKILL unless told: a crash, nothing is flushed or closed) and resolves with the exit code (null)
   * and signal once the process has exited.
   */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** fetch() against the host, with the key unless `key: null`. */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
}

/**
 * Starts the local host (`npm start`'s compiled entry point) under plain Node, as a user would, on a free port with a
 * settings file of its own, and waits for its banner.
 */
export async function startLocalHost(
  values: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<RunningHost> {
  const dir = await mkdtemp(join(tmpdir(), 'localhost-'));
  const settings = join(dir, 'local.settings.json');
  const key = 'test-local-key';
  await writeHostSettings(settings, { BRIDGE_LOCAL_KEY: key, ...values });
  const { child, output, ended } = spawnCollecting(
    process.execPath,
    [MAIN, '--port', '0', '--settings', settings, ...extraArgs],
    REPO_ROOT,
  );
  const exited = ended.then(({ code }) => code);

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The local host did not start in 30 s:\n${output()}`)), 30_000);
    const check = () => {
      const match = /--to (http:\/\/localhost:\d+)/.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => reject(new Error(`The local host exited (${code}):\n${output()}`)));
  });
  return {
    url,
    key,
    output,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      const result = await ended;
      await rm(dir, { recursive: true, force: true });
      return result;
    },
    request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.key !== null) headers.set('x-functions-key', init.key ?? key);
      return fetch(`${url}${path}`, { ...init, headers });
    },
  };
}

/** Runs the built `dataverse-bridge` CLI. */
export function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Spawns a process the way the local host is started, without the settings a developer's environment may hold
 * (they would win over the settings file), collecting its output.
 */
export function spawnCollecting(
  command: string,
  args: string[],
  cwd: string,
): {
  child: ChildProcess;
  output: () => string;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const env = { ...process.env };
  for (const name of [
    'AzureWebJobsStorage',
    'DATAVERSE_QUEUE_NAME',
    'EVENTGRID_TOPIC_ENDPOINT',
    'EVENTGRID_TOPIC_KEY',
    'BRIDGE_LOCAL_KEY',
    'PORT',
  ]) {
    delete env[name];
  }
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, ended };
}

/** Whether anything answers HTTP at `url` (false once the port is closed). */
export function answers(url: string): Promise<boolean> {
  return fetch(url).then(
    () => true,
    () => false,
  );
}

/** Writes a `local.settings.json` for the local host: embedded Azurite, the local queue, and `values` over them. */
export function writeHostSettings(path: string, values: Record<string, string>): Promise<void> {
  return writeFile(
    path,
    JSON.stringify({
      IsEncrypted: false,
      Values: {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        DATAVERSE_QUEUE_NAME: 'dataverse',
        ...values,
      },
    }),
  );
}
