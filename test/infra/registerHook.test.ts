/**
 * The azd `postup` hook (infra/hooks/registerDataverse.sh) as azd runs it: with the azd environment's values in the
 * environment, from the repository root. It runs the built CLI (npm test builds before it tests) against the Dataverse
 * double, or says how to register by hand.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseDouble } from '../doubles/dataverse.js';
import { seedRegistrationTables } from '../doubles/dataverseRegistration.js';
import { REPO_ROOT } from '../helpers/localHost.js';

const KEY = 'aG9vay1zZWNyZXQta2V5LTk5OTk=';
let dataverse: DataverseDouble;
let dir: string;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  seedRegistrationTables(dataverse, { account: ['name'] });
  await dataverse.start();
  dir = mkdtempSync(join(tmpdir(), 'bridge-hook-'));
});

afterAll(async () => {
  await dataverse.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the hook asynchronously: the Dataverse double answers from this process meanwhile. */
function hook(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', [join(REPO_ROOT, 'infra', 'hooks', 'registerDataverse.sh')], {
      cwd: REPO_ROOT,
      // What azd gives a hook: its environment's values. AZURE_RESOURCE_GROUP set: the hook does not call azd itself.
      env: { PATH: process.env.PATH ?? '', HOME: dir, AZURE_RESOURCE_GROUP: 'rg-bridge', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('azd postup hook: registerDataverse.sh', () => {
  it('says how to register by hand when DATAVERSE_URL is not set, without failing azd up', async () => {
    const result = await hook({ DATAVERSE_REGISTRATION_FILE: join(dir, 'missing.json') });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('the Dataverse steps were not registered');
    expect(result.stdout).toContain('register --config');
    expect(dataverse.count()).toBe(0);
  });

  it('registers the file when DATAVERSE_URL is set and the file exists, never printing the key', async () => {
    const file = join(dir, 'registration.json');
    writeFileSync(
      file,
      JSON.stringify({
        endpoint: {
          name: 'Bridge',
          transport: 'queue',
          namespace: 'contoso-bridge',
          path: 'dataverse',
          sasKeyName: 'send',
        },
        steps: [{ table: 'account', message: 'Create' }],
      }),
    );
    const result = await hook({
      DATAVERSE_URL: dataverse.url,
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
      DATAVERSE_REGISTRATION_FILE: file,
      DATAVERSE_SAS_KEY: KEY,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Applied 2 changes.');
    expect(result.stdout + result.stderr).not.toContain(KEY);
    expect(dataverse.count('create')).toBe(2);
  });
});
