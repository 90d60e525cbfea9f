import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_WITHOUT_TOPIC, REPO_ROOT, type RunningHost, runCli, startLocalHost } from '../helpers/localHost.js';
import { distinctContexts } from '../helpers/pipeline.js';

let host: RunningHost;

beforeAll(async () => {
  host = await startLocalHost();
});
afterAll(async () => {
  await host?.stop();
});

interface FunctionInfo {
  name: string;
  config: { bindings: Record<string, unknown>[] };
}

function triggerOf(functions: FunctionInfo[], name: string): Record<string, unknown> | undefined {
  return functions.find((f) => f.name === name)?.config.bindings.find((b) => String(b.type).endsWith('Trigger'));
}

describe('npm start: the local host loads the app the way the Functions host does', () => {
  it('serves every registration the compiled entry points make, with their triggers and bindings', async () => {
    const response = await host.request('/admin/functions');
    expect(response.status).toBe(200);
    const functions = (await response.json()) as FunctionInfo[];
    expect(functions.map((f) => f.name).sort()).toEqual(FUNCTIONS_WITHOUT_TOPIC);
    expect(triggerOf(functions, 'projectChanges')).toMatchObject({ type: 'eventGridTrigger', direction: 'in' });
    expect(triggerOf(functions, 'deliverSubscriptions')).toMatchObject({ type: 'eventGridTrigger', direction: 'in' });
    expect(triggerOf(functions, 'dataverseQueue')).toMatchObject({
      type: 'serviceBusTrigger',
      direction: 'in',
      queueName: '%DATAVERSE_QUEUE_NAME%',
      connection: 'ServiceBusConnection',
      cardinality: 'many',
      dataType: 'binary',
    });
    expect(triggerOf(functions, 'dataverseWebhook')).toMatchObject({
      type: 'httpTrigger',
      route: 'dataverse/webhook',
      methods: ['POST'],
      authLevel: 'function',
    });
    expect(triggerOf(functions, 'listJobs')).toMatchObject({
      type: 'httpTrigger',
      route: 'jobs',
      methods: ['GET'],
      authLevel: 'function',
    });
    expect(triggerOf(functions, 'getJob')).toMatchObject({
      route: 'jobs/{id}',
      methods: ['GET'],
      authLevel: 'function',
    });
  });

  it('registers dataverseTopic only when the topic settings exist', async () => {
    const withTopic = await startLocalHost({
      DATAVERSE_TOPIC_NAME: 'dataverse-topic',
      DATAVERSE_SUBSCRIPTION_NAME: 'bridge',
    });
    try {
      const functions = (await (await withTopic.request('/admin/functions')).json()) as FunctionInfo[];
      expect(triggerOf(functions, 'dataverseTopic')).toMatchObject({
        type: 'serviceBusTrigger',
        topicName: '%DATAVERSE_TOPIC_NAME%',
        subscriptionName: '%DATAVERSE_SUBSCRIPTION_NAME%',
        connection: 'ServiceBusConnection',
        cardinality: 'many',
      });
    } finally {
      expect(await withTopic.stop()).toBe(0);
    }
  });

  it('answers 401 to function-level and admin endpoints without the key or with a wrong one', async () => {
    const body = readFileSync(join(REPO_ROOT, 'samples', 'contexts', 'msdocs-usewebhooks-update-contact.json'));
    const missing = await host.request('/api/dataverse/webhook', { method: 'POST', body, key: null });
    expect(missing.status).toBe(401);
    const wrong = await host.request('/api/dataverse/webhook?code=nope', { method: 'POST', body, key: null });
    expect(wrong.status).toBe(401);
    expect((await host.request('/admin/functions', { key: 'nope' })).status).toBe(401);
    expect((await host.request('/api/jobs', { key: null })).status).toBe(401);
  });

  it('takes the samples from `dataverse-bridge send` as webhooks and shows their jobs and events', async () => {
    const samples = readdirSync(join(REPO_ROOT, 'samples', 'contexts')).filter((f) => f.endsWith('.json'));
    const sent = runCli(['send', 'samples/contexts', '--to', host.url, '--key', host.key]);
    expect(sent.stderr + sent.stdout).toContain(`sent ${samples.length}, accepted ${samples.length}, failed 0`);
    expect(sent.code).toBe(0);

    const jobs = (await (await host.request('/api/jobs?status=published&top=100')).json()) as {
      value: { id: string; source: string; table: string; eventId: string }[];
    };
    const webhookJobs = jobs.value.filter((job) => job.source === 'webhook');
    expect(webhookJobs).toHaveLength(samples.length);
    const events = (await (await host.request('/admin/events')).json()) as { value: { id: string; type: string }[] };
    for (const job of webhookJobs) {
      expect(events.value.filter((event) => event.id === job.eventId)).toHaveLength(1);
      const one = await host.request(`/api/jobs/${job.id}`);
      expect(await one.json()).toMatchObject({ id: job.id, status: 'published', source: 'webhook' });
    }
  });

  it('feeds the queue function through the admin endpoint with `send --queue`', async () => {
    // Not one of the samples the webhook test sent: the same context through another transport is a duplicate.
    const file = 'test/fixtures/dataverse-contexts/albxrm-webhook-create-shko_allfields.json';
    const sent = runCli(['send', file, '--queue', '--to', host.url, '--key', host.key]);
    expect(sent.code).toBe(0);
    const jobs = (await (await host.request('/api/jobs?top=100')).json()) as {
      value: { source: string; table: string }[];
    };
    expect(jobs.value.filter((job) => job.source === 'queue').map((job) => job.table)).toEqual(['shko_allfields']);

    const again = runCli([
      'send',
      'samples/contexts/albxrm-create-albxrm_alltypes.json',
      '--queue',
      '--to',
      host.url,
      '--key',
      host.key,
    ]);
    expect(again.code).toBe(0);
    const after = (await (await host.request('/api/jobs?top=100')).json()) as { value: { source: string }[] };
    expect(after.value.filter((job) => job.source === 'queue')).toHaveLength(1);
  });

  it('rejects a bad context with 400 and keeps it as a rejected job', async () => {
    const sent = runCli(['send', 'samples/bad', '--to', host.url, '--key', host.key]);
    expect(sent.code).toBe(1);
    expect(sent.stdout + sent.stderr).toContain('failed 1');
    const rejected = (await (await host.request('/api/jobs?status=rejected')).json()) as {
      value: { error: { code: string }; raw: { size: number } }[];
    };
    expect(rejected.value).toHaveLength(1);
    expect(rejected.value[0]?.error.code).toBe('NotAContext');
    expect(rejected.value[0]?.raw.size).toBe(
      readFileSync(join(REPO_ROOT, 'samples', 'bad', 'not-a-context.json')).length,
    );
  });

  it('validates query parameters with the connector error shape', async () => {
    const response = await host.request('/api/jobs?top=0');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: 'InvalidParameter', message: 'top must be a whole number from 1 to 1000.', target: 'top' },
    });
    expect((await host.request('/api/jobs/0123456789abcdef0123456789abcdef')).status).toBe(404);
  });

  it('runs the reconciliation timer on its schedule, and invokes it through the admin endpoint', async () => {
    const functions = (await (await host.request('/admin/functions')).json()) as FunctionInfo[];
    expect(triggerOf(functions, 'reconcileChanges')).toMatchObject({
      type: 'timerTrigger',
      schedule: '%BRIDGE_RECONCILE_SCHEDULE%',
    });
    // These settings leave BRIDGE_RECONCILE_SCHEDULE out (the sample sets it): as under the Functions host, the timer
    // is not scheduled, and the output says which setting it lacks. The admin endpoint still runs it.
    await expect
      .poll(() => host.output())
      .toContain(
        'reconcileChanges: not scheduled: the setting BRIDGE_RECONCILE_SCHEDULE its schedule names is not set.',
      );
    const invoked = await host.request('/admin/functions/reconcileChanges', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '' }),
    });
    expect(invoked.status).toBe(202);
    await expect.poll(() => host.output()).toContain('[reconcileChanges] Reconciliation is off');
  });

  it('delivers a Service Bus batch in one invocation with {"messages": […]}, each with its own facts', async () => {
    const [first, second] = distinctContexts(2, 'admin-batch');
    const invoke = (body: unknown, name = 'dataverseQueue') =>
      host.request(`/admin/functions/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const response = await invoke({
      messages: [
        { input: first?.toString('utf8'), messageId: 'batch-message-1', deliveryCount: 2 },
        { input: 'not json', messageId: 'batch-message-2' },
        { input: second?.toString('utf8'), messageId: 'batch-message-3' },
      ],
    });
    expect(response.status).toBe(202);
    const jobs = (await (await host.request('/api/jobs?top=1000')).json()) as {
      value: { messageId?: string; deliveryCount?: number; status: string; source: string }[];
    };
    const batch = jobs.value
      .filter((job) => job.messageId?.startsWith('batch-message-'))
      .map(({ messageId, deliveryCount, status, source }) => ({ messageId, deliveryCount, status, source }))
      .sort((a, b) => String(a.messageId).localeCompare(String(b.messageId)));
    expect(batch).toEqual([
      { messageId: 'batch-message-1', deliveryCount: 2, status: 'published', source: 'queue' },
      { messageId: 'batch-message-2', deliveryCount: 1, status: 'rejected', source: 'queue' },
      { messageId: 'batch-message-3', deliveryCount: 1, status: 'published', source: 'queue' },
    ]);

    const empty = await invoke({ messages: [] });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toEqual({
      error: { code: 'InvalidBody', message: '"messages" is empty: send at least one {"input": …}.' },
    });
    const withoutInput = await invoke({ messages: [{ input: '{}' }, { messageId: 'x' }] });
    expect(withoutInput.status).toBe(400);
    expect(((await withoutInput.json()) as { error: { message: string } }).error.message).toBe(
      '"messages"[1] must be an object with an "input" property.',
    );
    const notABatchTrigger = await invoke({ messages: [{ input: {} }] }, 'projectChanges');
    expect(notABatchTrigger.status).toBe(400);
    expect(((await notABatchTrigger.json()) as { error: { message: string } }).error.message).toBe(
      'projectChanges takes one message per invocation: send {"input": …}, not "messages".',
    );
  });

  it('prints a generated key in the banner when none is configured, and accepts it', async () => {
    const generated = await startLocalHost({ BRIDGE_LOCAL_KEY: '' });
    try {
      const key = /Key: {8}(\S+) {2}\(generated for this run;/.exec(generated.output())?.[1];
      expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(generated.output()).toContain(`--key ${key}`);
      expect((await generated.request('/api/jobs', { key: key as string })).status).toBe(200);
      expect((await generated.request('/api/jobs')).status).toBe(401); // the helper's usual key is not it
    } finally {
      await generated.stop();
    }
  });

  it('logs requests without the key (a configured key is not even in the banner), and stops cleanly on Ctrl+C with Azurite', async () => {
    const other = await startLocalHost();
    let code: number | null | undefined;
    try {
      await other.request(`/api/jobs?code=${other.key}`, { key: null });
      await expect.poll(() => other.output(), { timeout: 5_000 }).toContain('GET /api/jobs 200');
    } finally {
      code = await other.stop(); // even when an assertion failed: never leave a host or Azurite running
    }
    const tables = /tables (http:\/\/127\.0\.0\.1:\d+)/.exec(other.output())?.[1];
    expect(code).toBe(0);
    expect(other.output()).not.toContain(other.key);
    expect(other.output()).toContain('Key:        BRIDGE_LOCAL_KEY from the settings (not printed)');
    expect(other.output()).toContain('--key <BRIDGE_LOCAL_KEY>');
    await expect(fetch(`${tables}/devstoreaccount1/Tables`)).rejects.toThrow();
  });
});
