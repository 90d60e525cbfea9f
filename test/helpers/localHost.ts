import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(REPO_ROOT, 'dist', 'shared', 'localhost', 'main.js');
const CLI = join(REPO_ROOT, 'dist', 'shared', 'cli', 'main.js');

/**
 * Every function the app registers when no Service Bus topic is configured (the sample settings, and the settings
 * {@link startLocalHost} writes): all of them but `dataverseTopic`. Written out by hand, sorted.
 */
export const FUNCTIONS_WITHOUT_TOPIC = [
  'createSubscription',
  'dataverseQueue',
  'dataverseWebhook',
  'deleteSubscription',
  'deliverSubscriptions',
  'getJob',
  'getRow',
  'health',
  'listChanges',
  'listJobs',
  'listSubscriptions',
  'listTables',
  'openApiDefinition',
  'projectChanges',
  'publishEvent',
  'replayJob',
];

export interface RunningHost {
  url: string;
  key: string;
  output(): string;
  /** Sends SIGINT (Ctrl+C) and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends SIGKILL (a crash: nothing is flushed or closed) and resolves once the process is gone. */
  kill(): Promise<void>;
  /** fetch() against the host, with the key unless `key: null`. */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
}

/**
 * Starts the local host (`npm start`'s compiled entry point) under plain Node, as a user would, on a free port with a
 * settings file of its own, and waits for its banner.
 */
export async function startLocalHost(values: Record<string, string> = {}): Promise<RunningHost> {
  const dir = await mkdtemp(join(tmpdir(), 'localhost-'));
  const settings = join(dir, 'local.settings.json');
  const key = 'test-local-key';
  await writeFile(
    settings,
    JSON.stringify({
      IsEncrypted: false,
      Values: {
        FUNCTIONS_WORKER_RUNTIME: 'node',
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        DATAVERSE_QUEUE_NAME: 'dataverse',
        BRIDGE_LOCAL_KEY: key,
        ...values,
      },
    }),
  );
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
  const child: ChildProcess = spawn(process.execPath, [MAIN, '--port', '0', '--settings', settings], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The local host did not start in 30 s:\n${output}`)), 30_000);
    const check = () => {
      const match = /--to (http:\/\/localhost:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => reject(new Error(`The local host exited (${code}):\n${output}`)));
  });
  return {
    url,
    key,
    output: () => output,
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
      await rm(dir, { recursive: true, force: true });
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
