/**
 * The local host's Storage Queue triggers against Azurite, checked against what Microsoft Learn says the Functions
 * host does ("Azure Queue storage trigger for Azure Functions"; host.json `extensions.queues`).
 */
import { randomBytes } from 'node:crypto';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterEach, describe, expect, it } from 'vitest';
import { queueSettings, startQueueTriggers, timeSpanMs } from '../../tools/localhost/queues.js';
import type { Registration } from '../../tools/localhost/registrations.js';
import { testAzurite } from '../helpers/azurite.js';

const azurite = testAzurite();
const service = QueueServiceClient.fromConnectionString(azurite.connectionString);
const env = { AzureWebJobsStorage: azurite.connectionString };
/** Fast polling, failures retried at once, two tries: what the tests need of host.json. */
const FAST = queueSettings({
  extensions: { queues: { maxPollingInterval: '00:00:00.200', maxDequeueCount: 2, visibilityTimeout: '00:00:00' } },
});

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

interface Call {
  input: unknown;
  metadata: Record<string, unknown>;
}

function queueFunction(queueName: string, handler: (call: Call) => void | Promise<void>): Registration {
  return {
    name: 'onMessage',
    trigger: { type: 'queueTrigger', name: 'message', queueName, connection: 'AzureWebJobsStorage' },
    bindings: {},
    handler: async (input: unknown, context: unknown) =>
      handler({ input, metadata: (context as { triggerMetadata: Record<string, unknown> }).triggerMetadata }),
  };
}

function serve(registration: Registration, lines: string[] = []) {
  const served = startQueueTriggers([registration], (line) => lines.push(line), FAST, env);
  stops.push(() => served.stop());
  return served;
}

function freshQueue() {
  return service.getQueueClient(`q${randomBytes(6).toString('hex')}`);
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** `<queue>-poison` once it holds one message. */
async function poisoned(queue: string) {
  const poison = service.getQueueClient(`${queue}-poison`);
  await expect
    .poll(async () => (await poison.exists()) && (await poison.peekMessages()).peekedMessageItems.length, {
      timeout: 20_000,
    })
    .toBe(1);
  return poison;
}

describe('the local host serves Storage Queue triggers', () => {
  it('reads host.json extensions.queues with the host defaults', () => {
    expect(queueSettings({})).toEqual({
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      batchSize: 16,
      newBatchThreshold: 8,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
    expect(
      queueSettings({
        extensions: { queues: { maxPollingInterval: '00:00:02', batchSize: 4, messageEncoding: 'none' } },
      }),
    ).toMatchObject({ maxPollingIntervalMs: 2_000, batchSize: 4, newBatchThreshold: 2, messageEncoding: 'none' });
    expect(timeSpanMs('1.00:00:01.5')).toBe(86_401_500);
    expect(timeSpanMs('soon')).toBeUndefined();
  });

  it('passes a base64 JSON message parsed, with the trigger metadata, and deletes it after success', async () => {
    const queue = freshQueue();
    await queue.create();
    const calls: Call[] = [];
    const served = serve(queueFunction(queue.name, (call) => void calls.push(call)));
    expect(served.served).toEqual([{ name: 'onMessage', queue: queue.name }]);
    const sent = await queue.sendMessage(base64('{"jobId":"abc","check":1}'));
    await expect.poll(() => calls.length, { timeout: 15_000 }).toBe(1);
    const [call] = calls as [Call];
    expect(call.input).toEqual({ jobId: 'abc', check: 1 });
    expect(call.metadata).toMatchObject({
      id: sent.messageId,
      dequeueCount: 1,
      queueTrigger: '{"jobId":"abc","check":1}',
      popReceipt: expect.any(String),
      insertionTime: sent.insertedOn.toISOString(),
      expirationTime: sent.expiresOn.toISOString(),
      nextVisibleTime: expect.any(String),
    });
    await expect.poll(async () => (await queue.getProperties()).approximateMessagesCount, { timeout: 5_000 }).toBe(0);
  });

  it('passes text that is not JSON as a string, and polls a queue made after it started', async () => {
    const queue = freshQueue();
    const calls: Call[] = [];
    serve(queueFunction(queue.name, (call) => void calls.push(call)));
    await queue.create();
    await queue.sendMessage(base64('plain text'));
    await expect.poll(() => calls.length, { timeout: 15_000 }).toBe(1);
    expect(calls[0]?.input).toBe('plain text');
  });

  it('retries a failed message, then moves it as sent to <queue>-poison after maxDequeueCount tries', async () => {
    const queue = freshQueue();
    await queue.create();
    const counts: number[] = [];
    const lines: string[] = [];
    serve(
      queueFunction(queue.name, (call) => {
        counts.push(call.metadata.dequeueCount as number);
        throw new Error('boom');
      }),
      lines,
    );
    const text = base64('{"n":1}');
    await queue.sendMessage(text);
    const poison = await poisoned(queue.name);
    expect(counts).toEqual([1, 2]);
    expect((await poison.peekMessages()).peekedMessageItems[0]?.messageText).toBe(text);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    expect(lines.join('\n')).toContain(`moved to ${queue.name}-poison after 2 tries`);
    await poison.delete();
  });

  it('honours visibility: a message sent with a delay, and a failed one with visibilityTimeout, come back no sooner', async () => {
    const queue = freshQueue();
    await queue.create();
    const calls: number[] = [];
    const slow = queueSettings({
      extensions: { queues: { maxPollingInterval: '00:00:00.200', maxDequeueCount: 3, visibilityTimeout: '00:00:01' } },
    });
    const served = startQueueTriggers(
      [
        queueFunction(queue.name, () => {
          calls.push(Date.now());
          if (calls.length === 1) throw new Error('first try fails');
        }),
      ],
      () => {},
      slow,
      env,
    );
    stops.push(() => served.stop());
    const sentAt = Date.now();
    await queue.sendMessage(base64('{"late":true}'), { visibilityTimeout: 1 });
    await expect.poll(() => calls.length, { timeout: 20_000 }).toBe(2);
    // Lower bounds only: the queue service does not hand out a message before it is visible.
    expect((calls[0] as number) - sentAt).toBeGreaterThanOrEqual(900);
    expect((calls[1] as number) - (calls[0] as number)).toBeGreaterThanOrEqual(900);
    await expect.poll(async () => (await queue.getProperties()).approximateMessagesCount, { timeout: 5_000 }).toBe(0);
  });

  it('fails a message that is not base64 (the default messageEncoding), so it ends in the poison queue', async () => {
    const queue = freshQueue();
    await queue.create();
    const calls: Call[] = [];
    const lines: string[] = [];
    serve(
      queueFunction(queue.name, (call) => void calls.push(call)),
      lines,
    );
    await queue.sendMessage('{not base64}');
    const poison = await poisoned(queue.name);
    expect(calls).toEqual([]);
    expect(lines.join('\n')).toContain('is not base64');
    await poison.delete();
  });

  it('names a trigger it cannot serve: a missing queue-name setting, or a connection without a connection string', () => {
    const lines: string[] = [];
    const served = startQueueTriggers(
      [
        queueFunction('%MISSING%', () => {}),
        {
          ...queueFunction('q', () => {}),
          name: 'identity',
          trigger: { type: 'queueTrigger', name: 'm', queueName: 'q', connection: 'Other' },
        },
        {
          ...queueFunction('q', () => {}),
          name: 'tablesOnly',
          trigger: { type: 'queueTrigger', name: 'm', queueName: 'q', connection: 'TablesOnly' },
        },
      ],
      (line) => lines.push(line),
      FAST,
      { ...env, TablesOnly: azurite.connectionString.replace(/QueueEndpoint=[^;]+;/, '') },
    );
    expect(served.served).toEqual([]);
    expect(lines[0]).toContain('the setting MISSING');
    expect(lines[1]).toContain('its connection Other holds no connection string');
    expect(lines[2]).toContain('tablesOnly: not served: TablesOnly names no queue service');
  });
});
