/**
 * `GET /api/health` reports the Dataverse-side failures of the last hour: the failed system jobs (asyncoperation) of the
 * steps `dataverse-bridge register` created, read from the Dataverse double — without failing the check, since a
 * failing health probe would get healthy instances restarted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health } from '../../shared/connector/health.js';
import { STEP_MARKER } from '../../shared/dataverseApi/systemJobs.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { seedRegistrationTables, seedSystemJob } from '../doubles/dataverseRegistration.js';

describe('functions/health.ts: Dataverse-side failures of the last hour', () => {
  let dataverse: DataverseDouble;
  const saved = { ...process.env };

  beforeAll(async () => {
    dataverse = new DataverseDouble();
    const { filters } = seedRegistrationTables(dataverse, { account: ['name'] });
    const [ours, theirs] = dataverse.seedRows('sdkmessageprocessingstep', [
      {
        name: 'Dataverse Bridge: Update of account',
        description: `${STEP_MARKER} managed`,
        stage: 40,
        mode: 1,
        _sdkmessagefilterid_value: filters['Update/account'],
      },
      {
        name: 'Someone else’s plug-in',
        description: 'not ours',
        stage: 40,
        mode: 1,
        _sdkmessagefilterid_value: filters['Update/account'],
      },
    ]);
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);
    seedSystemJob(dataverse, {
      stepId: ours as string,
      statusCode: 31,
      createdOn: ago(5),
      message: 'Service Bus refused',
    });
    seedSystemJob(dataverse, {
      stepId: ours as string,
      statusCode: 31,
      createdOn: ago(50),
      message: 'Service Bus refused',
    });
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

  it('counts the failed system jobs of the bridge steps in the last hour, and keeps the check ok', async () => {
    const { setIngestDeps } = await import('../../shared/pipeline/runtime.js');
    setIngestDeps({ jobs: { get: async () => undefined } } as never);
    const { health: handler } = await import('../../functions/health.js');
    const answer = await handler();
    const body = answer.jsonBody as Health;
    expect(body.checks.dataverse).toMatchObject({
      status: 'ok',
      failedSystemJobsLastHour: 2,
      message: `2 system jobs of the bridge's steps failed in the last hour: run "dataverse-bridge status" for Dataverse's messages`,
    });
    setIngestDeps(undefined);
  });
});
