import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../shared/pipeline/errors.js';
import { setIngestDeps } from '../../shared/runtime.js';
import { testAzurite } from '../helpers/azurite.js';
import { contextBytes, rawContext } from '../helpers/fixtures.js';
import { distinctContexts, ORGANIZATION_PROPERTY, type PipelineHarness, startPipeline } from '../helpers/pipeline.js';

const azurite = testAzurite();
let harness: PipelineHarness;
let functions: {
  dataverseQueue: typeof import('../../functions/dataverseQueue.js').dataverseQueue;
  dataverseWebhook: typeof import('../../functions/dataverseWebhook.js').dataverseWebhook;
};

beforeAll(async () => {
  // The function files validate the settings when they load, as they do under the Functions host.
  process.env.AzureWebJobsStorage = azurite.connectionString;
  process.env.DATAVERSE_QUEUE_NAME = 'dataverse';
  functions = {
    dataverseQueue: (await import('../../functions/dataverseQueue.js')).dataverseQueue,
    dataverseWebhook: (await import('../../functions/dataverseWebhook.js')).dataverseWebhook,
  };
});
afterAll(async () => {
  setIngestDeps(undefined);
});
afterEach(async () => {
  await harness?.stop();
});

async function withPipeline(options: Parameters<typeof startPipeline>[1] = {}): Promise<PipelineHarness> {
  harness = await startPipeline(azurite, options);
  setIngestDeps(harness.deps);
  return harness;
}

describe('dataverseQueue, called with the shapes the Functions host passes', () => {
  it('reads a binary batch with its metadata arrays (keys camelCased by the library)', async () => {
    const h = await withPipeline();
    const [a, b] = distinctContexts(2, 'fn-queue') as [Buffer, Buffer];
    const context = new InvocationContext({
      functionName: 'dataverseQueue',
      triggerMetadata: {
        messageIdArray: ['m-a', 'm-b'],
        deliveryCountArray: [1, 2],
        contentTypeArray: ['application/json', 'application/json'],
        applicationPropertiesArray: [
          { [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com', messageMaxSizeExceeded: true },
          { [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com' },
        ],
      },
    });
    await functions.dataverseQueue([a, b], context);

    expect(h.receiver.events).toHaveLength(2);
    const flagged = h.receiver.events.find(
      (e) => (e.data as { messageMaxSizeExceeded: boolean }).messageMaxSizeExceeded,
    );
    expect(flagged?.source).toBe('https://contoso.crm.dynamics.com');
    const page = await h.jobs.list({});
    expect(page.jobs.map((job) => [job.messageId, job.deliveryCount]).sort()).toEqual([
      ['m-a', 1],
      ['m-b', 2],
    ]);
  });

  it('reads bodies the host passed as strings or already-parsed JSON', async () => {
    const h = await withPipeline();
    const [text, parsed] = distinctContexts(2, 'fn-shapes').map((body) => body.toString('utf8')) as [string, string];
    await functions.dataverseQueue([text, JSON.parse(parsed)], new InvocationContext({ triggerMetadata: {} }));
    expect(h.receiver.events).toHaveLength(2);
  });

  it('completes a batch with a poison message in it, recording the rejection', async () => {
    const h = await withPipeline();
    const [good] = distinctContexts(1, 'fn-poison') as [Buffer];
    await functions.dataverseQueue([good, Buffer.from('not json')], new InvocationContext({ triggerMetadata: {} }));
    expect(h.receiver.events).toHaveLength(1);
    expect((await h.jobs.list({ status: 'rejected' })).jobs).toHaveLength(1);
  });

  it('fails the invocation (so Service Bus redelivers) when Event Grid is down', async () => {
    await withPipeline({ fault: () => 500 });
    const [body] = distinctContexts(1, 'fn-down') as [Buffer];
    await expect(
      functions.dataverseQueue([body], new InvocationContext({ triggerMetadata: {} })),
    ).rejects.toBeInstanceOf(RetryLaterError);
  });
});

function webhookRequest(body: Buffer, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/dataverse/webhook?code=dev-key',
    body: { bytes: body },
    headers: {
      'content-type': 'application/json',
      'x-ms-dynamics-organization': 'contoso.crm.dynamics.com',
      'x-ms-dynamics-entity-name': 'contact',
      'x-ms-dynamics-request-name': 'Update',
      'x-ms-correlation-request-id': 'b374239d-4233-41a9-8b17-a86cb4f737b5',
      ...headers,
    },
  });
}

describe('dataverseWebhook', () => {
  it('answers 200 with the job and event ids once the event is out, and one event per context', async () => {
    const h = await withPipeline();
    const body = contextBytes('msdocs-usewebhooks-update-contact.json');
    const response = await functions.dataverseWebhook(webhookRequest(body), new InvocationContext());
    expect(response.status).toBe(200);
    const json = response.jsonBody as { jobId: string; eventId: string; status: string };
    expect(json.status).toBe('published');
    expect(h.receiver.events.map((e) => e.id)).toEqual([json.eventId]);
    expect(h.receiver.events[0]?.source).toBe('https://contoso.crm.dynamics.com');

    const retry = await functions.dataverseWebhook(webhookRequest(body), new InvocationContext());
    expect(retry.status).toBe(200);
    expect(retry.jsonBody).toMatchObject({ jobId: json.jobId, status: 'duplicate' });
    expect(h.receiver.events).toHaveLength(1);
    expect(await h.jobs.get(json.jobId)).toMatchObject({
      source: 'webhook',
      messageId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
    });
  });

  it('answers 400 with the reason and the path for bad input, and records it', async () => {
    const h = await withPipeline();
    const raw = rawContext('msdocs-usewebhooks-update-contact.json');
    raw.Stage = 'forty';
    const response = await functions.dataverseWebhook(
      webhookRequest(Buffer.from(JSON.stringify(raw))),
      new InvocationContext(),
    );
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({ error: { code: 'InvalidValue', target: '$.Stage' } });
    const { jobId } = response.jsonBody as { jobId: string };
    expect(await h.jobs.get(jobId)).toMatchObject({ status: 'rejected', source: 'webhook' });
  });

  it('answers 503 with Retry-After when Event Grid is unavailable', async () => {
    await withPipeline({ fault: () => 429 });
    const response = await functions.dataverseWebhook(
      webhookRequest(contextBytes('albxrm-webhook-create-shko_allfields.json')),
      new InvocationContext(),
    );
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '5' });
  });
});
