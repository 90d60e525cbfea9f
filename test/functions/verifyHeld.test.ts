/**
 * The verifyHeld function file in-process, called as the Functions host calls a Queue trigger (the message as the
 * parsed JSON or the text, an InvocationContext with the trigger metadata), with the runtime's wiring: the hold queue
 * built from the settings on the run's Azurite, the pipeline and Dataverse client replaced by test ones.
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventIdFor } from '../../shared/events/eventId.js';
import { ingest } from '../../shared/pipeline/ingest.js';
import { getHoldQueue, setDataverseApi, setIngestDeps } from '../../shared/runtime.js';
import type { DataverseDouble } from '../doubles/dataverse.js';
import { testAzurite } from '../helpers/azurite.js';
import { dataContractJson, entity, kv, rawContext, typed } from '../helpers/contexts.js';
import { doubleClient, startContactDouble } from '../helpers/heldContexts.js';
import { type PipelineHarness, queueMessage, startPipeline } from '../helpers/pipeline.js';

const azurite = testAzurite();
let dataverse: DataverseDouble;
let harness: PipelineHarness;
let verifyHeld: typeof import('../../functions/verifyHeld.js').verifyHeld;

beforeAll(async () => {
  dataverse = await startContactDouble();
  // The function file validates the settings when it loads, as under the Functions host.
  process.env.AzureWebJobsStorage = azurite.connectionString;
  process.env.DATAVERSE_QUEUE_NAME = 'dataverse';
  process.env.AZURE_FUNCTIONS_ENVIRONMENT = 'Development';
  process.env.DATAVERSE_URL = dataverse.url;
  process.env.BRIDGE_STORAGE_PREFIX = 'fnverify';
  verifyHeld = (await import('../../functions/verifyHeld.js')).verifyHeld;
  harness = await startPipeline(azurite);
  setIngestDeps({ ...harness.deps, hold: { queue: await getHoldQueue(), delaySeconds: 1 } });
  setDataverseApi(doubleClient(dataverse.url));
});
afterAll(async () => {
  setIngestDeps(undefined);
  setDataverseApi(undefined);
  await harness?.stop();
  await dataverse?.stop();
});

describe('verifyHeld, called with the shapes the Functions host passes', () => {
  it('publishes a held context whose row exists, from the parsed JSON message', async () => {
    const id = randomUUID();
    const body = dataContractJson(
      rawContext({
        MessageName: 'Create',
        Mode: 0,
        PrimaryEntityId: id,
        OperationId: randomUUID(),
        InputParameters: kv({ Target: typed('Entity', entity('contact', id, { fullname: 'Ada' })) }),
      }),
    );
    const deps = { ...harness.deps, hold: { queue: await getHoldQueue(), delaySeconds: 1 } };
    const [held] = (await ingest([queueMessage(Buffer.from(body))], deps)).outcomes;
    expect(held?.status).toBe('held');
    dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada' }]);

    const lines: string[] = [];
    const context = new InvocationContext({
      functionName: 'verifyHeld',
      triggerMetadata: { id: 'm-1', dequeueCount: 1 },
      logHandler: (_level, ...args) => lines.push(args.join(' ')),
    });
    const result = await verifyHeld({ jobId: held?.jobId, check: 0 }, context);
    expect(result).toMatchObject({ jobId: held?.jobId, status: 'published' });
    expect(harness.receiver.events.map((e) => e.id)).toEqual([eventIdFor(held?.jobId as string)]);
    expect(lines.join('\n')).toContain(`Job ${held?.jobId}: published`);
  });

  it('drops, with a warning, a message that is not a check (nothing of ours sends one)', async () => {
    const lines: string[] = [];
    const context = new InvocationContext({
      functionName: 'verifyHeld',
      triggerMetadata: { id: 'm-2' },
      logHandler: (_level, ...args) => lines.push(args.join(' ')),
    });
    expect(await verifyHeld('hello', context)).toEqual({ status: 'ignored', reason: 'not a verification check' });
    expect(lines.join('\n')).toContain('Message m-2 is not a verification check');
  });
});
