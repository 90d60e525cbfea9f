import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseRequestError } from '../../shared/dataverseApi/errors.js';
import { failedBridgeJobs, lastHourFailures } from '../../shared/dataverseApi/systemJobs.js';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import type { DataverseApi } from '../../shared/dataverseApi/types.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { runRegister } from '../../tools/cli/register.js';
import { runStatus, type StatusOptions } from '../../tools/cli/status.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { type RegistrationSeed, seedRegistrationTables, seedSystemJob } from '../doubles/dataverseRegistration.js';

let dataverse: DataverseDouble;
let seed: RegistrationSeed;
let dir: string;
let settingsFile: string;
let config: string;
let updateStep: string;
let createStep: string;

const open = async (settings: { url: string }) =>
  new WebApiClient(new DataverseTransport({ url: settings.url, timeoutMs: 5_000, retryBudgetMs: 5_000 }));
const env = () => ({
  DATAVERSE_URL: dataverse.url,
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
  DATAVERSE_SAS_KEY: 'k',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-status-'));
  settingsFile = join(dir, 'local.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: {} }));
  config = join(dir, 'registration.json');
  writeFileSync(
    config,
    JSON.stringify({
      endpoint: {
        name: 'Dataverse Bridge',
        transport: 'queue',
        namespace: 'contoso-bridge',
        path: 'dataverse',
        sasKeyName: 'send',
      },
      steps: [
        { table: 'account', message: 'Update' },
        { table: 'account', message: 'Create' },
      ],
    }),
  );
  dataverse = new DataverseDouble();
  seed = seedRegistrationTables(dataverse, { account: ['name'] });
  await dataverse.start();
  const sink = { write: () => true };
  expect(await runRegister({ config, settings: settingsFile }, sink, sink, env(), open)).toBe(0);
  const steps = (
    await (await open(dataverse)).list('sdkmessageprocessingstep', { select: ['_sdkmessagefilterid_value'] })
  ).rows;
  updateStep = String(
    steps.find((s) => s._sdkmessagefilterid_value === seed.filters['Update/account'])?.sdkmessageprocessingstepid,
  );
  createStep = String(
    steps.find((s) => s._sdkmessagefilterid_value === seed.filters['Create/account'])?.sdkmessageprocessingstepid,
  );
  // Disabled by an administrator in Dataverse.
  await (await open(dataverse)).update('sdkmessageprocessingstep', createStep, { statecode: 1, statuscode: 2 });

  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
  for (const m of [5, 30, 200])
    seedSystemJob(dataverse, { stepId: updateStep, statusCode: 30, createdOn: minutesAgo(m) });
  seedSystemJob(dataverse, {
    stepId: updateStep,
    statusCode: 31,
    createdOn: minutesAgo(10),
    message: 'System.ServiceModel.FaultException: 40103: Invalid authorization token signature',
    friendlyMessage: 'The Azure Service Bus rejected the key: check the SAS key of the service endpoint.',
  });
  seedSystemJob(dataverse, {
    stepId: createStep,
    statusCode: 10,
    createdOn: minutesAgo(90),
    message: 'The plug-in execution failed because the Service Bus was unreachable; retrying.',
  });
  // Older than the window, and another endpoint's step: neither is counted.
  seedSystemJob(dataverse, { stepId: updateStep, statusCode: 31, createdOn: minutesAgo(60 * 30), message: 'old' });
  seedSystemJob(dataverse, { stepId: '00000000-0000-0000-0000-00000000abcd', statusCode: 31, message: 'not ours' });
});

afterAll(async () => {
  await dataverse.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function status(options: StatusOptions): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runStatus(
    { settings: settingsFile, ...options },
    { write: (s: string) => (stdout += s) },
    { write: (s: string) => (stderr += s) },
    env(),
    open,
  );
  return { code, stdout, stderr };
}

describe('dataverse-bridge status', () => {
  it('lists the endpoint, its steps (enabled or not) and the system jobs: counts, then the failed and waiting ones', async () => {
    const result = await status({ config });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'Endpoint  "Dataverse Bridge"  queue  sb://contoso-bridge.servicebus.windows.net/dataverse',
    );
    expect(result.stdout).toContain('  enabled   Dataverse Bridge: Update of account  (postOperation, async)');
    expect(result.stdout).toContain('  disabled  Dataverse Bridge: Create of account  (postOperation, async)');
    expect(result.stdout).toContain('System jobs of the last 24 hours (5)');
    expect(result.stdout).toContain('Succeeded 3');
    expect(result.stdout).toContain('Failed 1');
    expect(result.stdout).toContain('Waiting 1');
    expect(result.stdout).not.toContain('Waiting 2');
    expect(result.stdout).toMatch(
      /Failed\s+Dataverse Bridge: Update of account: The Azure Service Bus rejected the key: check the SAS key/,
    );
    expect(result.stdout).toMatch(
      /Waiting\s+Dataverse Bridge: Create of account: The plug-in execution failed because/,
    );
    expect(result.stdout).not.toContain('old');
    expect(result.stdout).not.toContain('not ours');
  });

  it('narrows the window with --hours, and answers JSON', async () => {
    const result = await status({ endpoint: 'Dataverse Bridge', hours: '1', json: true });
    const body = JSON.parse(result.stdout) as {
      counts: Record<string, number>;
      steps: Array<{ enabled: boolean }>;
      attention: Array<{ status: string; step: string }>;
    };
    expect(body.counts).toEqual({ Succeeded: 2, Failed: 1 });
    expect(body.steps.map((s) => s.enabled).sort()).toEqual([false, true]);
    expect(body.attention).toEqual([
      expect.objectContaining({ status: 'Failed', step: 'Dataverse Bridge: Update of account' }),
    ]);
    expect(result.code).toBe(1);
  });

  it('widens the window with --hours', async () => {
    const wide = await status({ endpoint: 'Dataverse Bridge', hours: '720' });
    expect(wide.stdout).toContain('System jobs of the last 720 hours (6)');
    expect(wide.stdout).toContain('Failed 2');
    const bad = await status({ endpoint: 'Dataverse Bridge', hours: 'soon' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--hours must be a whole number from 1 to 720');
  });

  it('says what to do when the endpoint does not exist or no endpoint is named', async () => {
    const missing = await status({ endpoint: 'Nope' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no service endpoint is named "Nope"');
    const neither = await status({});
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('give --config <registration file> or --endpoint <name>');
  });

  it('counts the failures of the bridge steps in the last hour (what the health answer reports)', async () => {
    expect(await failedBridgeJobs(await open(dataverse), new Date(Date.now() - 3_600_000))).toBe(1);
  });

  it('health: an application user that may not read system jobs gets a note with the error code only', async () => {
    const forbidden = {
      list: async () => {
        throw new DataverseRequestError(
          'DataverseForbidden',
          'Principal user (Id=1234) is missing prvReadAsyncOperation privilege',
          {
            operation: 'GET sdkmessageprocessingsteps',
            status: 403,
          },
        );
      },
    } as unknown as DataverseApi;
    expect(await lastHourFailures(forbidden)).toEqual({
      message:
        'system jobs were not read (DataverseForbidden): give the application user read access to sdkmessageprocessingstep and asyncoperation',
    });
  });
});

describe('dataverse-bridge status with nothing failed', () => {
  it('exits 0 and says there were no system jobs', async () => {
    const quiet = new DataverseDouble();
    seedRegistrationTables(quiet, { account: ['name'] });
    const [endpoint] = quiet.seedRows('serviceendpoint', [
      { name: 'Quiet', contract: 8, url: 'https://bridge.example/api/dataverse/webhook' },
    ]);
    quiet.seedRows('sdkmessageprocessingstep', [
      { name: 'Quiet: Create of account', stage: 40, mode: 1, statecode: 0, _eventhandler_value: endpoint },
    ]);
    await quiet.start();
    try {
      let stdout = '';
      const code = await runStatus(
        { endpoint: 'Quiet', settings: settingsFile },
        { write: (s: string) => (stdout += s) },
        { write: () => true },
        { DATAVERSE_URL: quiet.url, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' },
        open,
      );
      expect(code).toBe(0);
      expect(stdout).toContain('Endpoint  "Quiet"  webhook  https://bridge.example/api/dataverse/webhook');
      expect(stdout).toContain('  enabled   Quiet: Create of account  (postOperation, async)');
      expect(stdout).toContain('System jobs of the last 24 hours (0)\n  none');
      expect(stdout).not.toContain('Failed or waiting');
    } finally {
      await quiet.stop();
    }
  });
});
