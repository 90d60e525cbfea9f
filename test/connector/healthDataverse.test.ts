/**
 * `GET /api/health` with Dataverse configured: the handler in `functions/health.ts` as the host calls it, with the
 * settings of local mode pointing at the Dataverse double; and `health()` itself with a Dataverse that refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Health, health } from '../../shared/connector/health.js';
import { DataverseRequestError } from '../../shared/dataverseApi/errors.js';
import { STEP_MARKER } from '../../shared/dataverseApi/systemJobs.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { seedRegistrationTables, seedSystemJob } from '../doubles/dataverseRegistration.js';

const ok = async () => {};

describe('GET /api/health and Dataverse', () => {
  it('leaves Dataverse out when it is not configured', async () => {
    const body = (await health({ pingStorage: ok, eventGrid: { kind: 'local' }, version: 'v' })).jsonBody as Health;
    expect(body.checks.dataverse).toBeUndefined();
    expect(body.status).toBe('healthy');
  });

  it('answers 503 when Dataverse refuses, with the code and status but not Dataverse’s text', async () => {
    const response = await health({
      pingStorage: ok,
      eventGrid: { kind: 'local' },
      version: 'v',
      pingDataverse: async () => {
        throw new DataverseRequestError(
          'DataverseForbidden',
          'Principal user (Id=1234) is missing prvReadAccount privilege',
          {
            operation: 'WhoAmI',
            status: 403,
          },
        );
      },
    });
    expect(response.status).toBe(503);
    const body = response.jsonBody as Health;
    expect(body.status).toBe('unhealthy');
    expect(body.checks.dataverse?.status).toBe('failed');
    expect(body.checks.dataverse?.message).toBe(
      'Dataverse: DataverseForbidden (403); run "dataverse-bridge whoami" with the app\'s settings for details',
    );
    expect(JSON.stringify(body)).not.toContain('1234');
  });

  it('times a silent Dataverse out', async () => {
    const response = await health({
      pingStorage: ok,
      eventGrid: { kind: 'local' },
      version: 'v',
      timeoutMs: 100,
      pingDataverse: () => new Promise(() => {}),
    });
    expect((response.jsonBody as Health).checks.dataverse).toMatchObject({
      status: 'failed',
      message: 'Dataverse did not answer within 100 ms',
    });
  });
});

describe('functions/health.ts with DATAVERSE_URL set (local mode, the Dataverse double)', () => {
  let dataverse: DataverseDouble;
  const saved = { ...process.env };

  beforeAll(async () => {
    dataverse = new DataverseDouble();
    // The steps `dataverse-bridge register` created, and their system jobs: failures of the last hour are reported.
    const { filters } = seedRegistrationTables(dataverse, { account: ['name'] });
    const [ours, theirs] = dataverse.seedRows('sdkmessageprocessingstep', [
      {
        name: 'Bridge: Update of account',
        description: `${STEP_MARKER} managed`,
        stage: 40,
        mode: 1,
        _sdkmessagefilterid_value: filters['Update/account'],
      },
      {
        name: 'Someone else’s plug-in',
        description: 'posts to dataverse-bridge, registered by hand (no marker)',
        stage: 40,
        mode: 1,
        _sdkmessagefilterid_value: filters['Update/account'],
      },
    ]);
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    for (const minutes of [5, 50])
      seedSystemJob(dataverse, { stepId: ours as string, statusCode: 31, createdOn: ago(minutes) });
    seedSystemJob(dataverse, { stepId: ours as string, statusCode: 31, createdOn: ago(90), message: 'too old' });
    seedSystemJob(dataverse, { stepId: ours as string, statusCode: 30, createdOn: ago(1) });
    seedSystemJob(dataverse, { stepId: theirs as string, statusCode: 31, createdOn: ago(1), message: 'not ours' });
    await dataverse.start();
    Object.assign(process.env, {
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      DATAVERSE_QUEUE_NAME: 'dataverse',
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
      DATAVERSE_URL: dataverse.url,
      DATAVERSE_RETRY_BUDGET_SECONDS: '0',
    });
  });

  afterAll(async () => {
    process.env = saved;
    await dataverse.stop();
  });

  it('reports Dataverse ok after one WhoAmI, and failed when it is down', async () => {
    const { setIngestDeps } = await import('../../shared/runtime.js');
    // Storage is not under test here: a job store whose point read answers at once.
    setIngestDeps({ jobs: { get: async () => undefined } } as never);
    const { health: handler } = await import('../../functions/health.js');
    const before = dataverse.count('whoAmI');
    const answer = await handler();
    const body = answer.jsonBody as Health;
    expect(body.checks.dataverse?.status).toBe('ok');
    // Reported without failing the check: a failing health probe would get healthy instances restarted.
    expect(body.checks.dataverse).toMatchObject({
      failedSystemJobsLastHour: 2,
      message: `2 system jobs of the bridge's steps failed in the last hour: run "dataverse-bridge status" for Dataverse's messages`,
    });
    expect(dataverse.count('whoAmI') - before).toBe(1);

    // On WhoAmI itself: the health check's system-jobs read (which this double's tables cannot answer) may still have
    // metadata requests in flight.
    dataverse.inject({ kind: 'status', status: 503 }, { match: (r) => r.kind === 'whoAmI' });
    const down = (await handler()).jsonBody as Health;
    expect(down.checks.dataverse).toMatchObject({ status: 'failed' });
    expect(down.checks.dataverse?.message).toContain('DataverseUnavailable (503)');
    setIngestDeps(undefined);
  });
});
