import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answers, REPO_ROOT, spawnCollecting, writeHostSettings } from '../helpers/localHost.js';

let dir: string;
let npm: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npm-start-'));
  await writeHostSettings(join(dir, 'local.settings.json'), { BRIDGE_LOCAL_KEY: 'npm-start-test-key' });
  // The repository's own start script, in a package of its own with the build step left out: building here would
  // rewrite dist/ while other suites load it. npm still runs it through a shell, as `npm start` does.
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  expect(pkg.scripts.start).toMatch(/^npm run build && node dist\//);
  const start = pkg.scripts.start
    .replace('npm run build', 'node --version')
    .replace('node dist/', `node ${JSON.stringify(`${REPO_ROOT}/dist/`).slice(1, -1)}`);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'npm-start-test', private: true, scripts: { start } }),
  );
});
afterAll(async () => {
  if (npm?.exitCode === null) npm.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('stops the local host and Azurite when npm itself gets SIGTERM (an IDE stop button, a process manager)', async () => {
    // npm runs the script through a shell, which does not pass SIGTERM on to the host it started.
    const started = spawnCollecting(
      'npm',
      ['start', '--', '--port', '0', '--settings', join(dir, 'local.settings.json')],
      dir,
    );
    npm = started.child;
    const output = started.output;
    const exited = started.ended;
    await expect.poll(output, { timeout: 90_000, interval: 200 }).toContain('Press Ctrl+C to stop.');
    const base = /--to (http:\/\/localhost:\d+)/.exec(output())?.[1] as string;
    const tables = /tables (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1] as string;
    expect(await answers(`${base}/api/health`)).toBe(true);
    expect(await answers(`${tables}/devstoreaccount1/Tables`)).toBe(true);

    npm.kill('SIGTERM');
    await exited;
    // Nothing npm started is left: the host's port and Azurite's are free again.
    await expect.poll(() => answers(`${base}/api/health`), { timeout: 20_000 }).toBe(false);
    await expect.poll(() => answers(`${tables}/devstoreaccount1/Tables`), { timeout: 20_000 }).toBe(false);
  }, 150_000);
});
