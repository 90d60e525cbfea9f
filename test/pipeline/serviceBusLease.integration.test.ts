/**
 * A Service Bus message that comes back while another delivery holds its job's lease: after a crash (the lock ran
 * out, the dead invocation's lease did not) or because Dataverse posted the same context twice at once. Service Bus
 * redelivers an abandoned message at once, so answering "busy" by throwing would spend the delivery count in seconds
 * and dead-letter a context nobody published. The handler waits instead. Real Azurite stores, the real Event Grid
 * client and a local receiver.
 */
import { describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/readContext.js';
import type { EventPublisher } from '../../shared/events/types.js';
import { RetryLaterError } from '../../shared/pipeline/errors.js';
import { ingest } from '../../shared/pipeline/ingest.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { handleServiceBusBatch } from '../../shared/pipeline/serviceBus.js';
import { dataContractJson } from '../helpers/contexts.js';
import { rawContext } from '../helpers/fixtures.js';
import { distinctContexts, ORGANIZATION_PROPERTY, queueMessage } from '../helpers/pipeline.js';
import { pipelineForTests } from '../helpers/pipelineHooks.js';

const LEASE_SECONDS = 2;
const harness = pipelineForTests({ leaseSeconds: LEASE_SECONDS });

/** The trigger's view of one message: the body and the `*Array` metadata of a batch of one. */
const metadata = (messageId: string, deliveryCount: number) => ({
  messageIdArray: [messageId],
  deliveryCountArray: [deliveryCount],
  contentTypeArray: ['application/json'],
  applicationPropertiesArray: [{ [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com' }],
});

/** A publisher that never answers: the invocation using it is as good as dead, holding its lease. */
const hanging: EventPublisher = { send: () => new Promise<void>(() => {}) };

function jobIdOf(body: Buffer): string {
  const message = queueMessage(body);
  return jobKeyForContext(readContext(message.body, message.transport), body);
}

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('handleServiceBusBatch: a job leased by another delivery', () => {
  it('takes the job over when the dead delivery lease ends, and publishes it once, instead of asking for a retry', async () => {
    const h = harness();
    const [body] = distinctContexts(1, 'lease-crash') as [Buffer];
    const jobId = jobIdOf(body);
    // The first delivery claims the job and never finishes (the host died while publishing).
    void ingest([queueMessage(body, 'm-1')], { ...h.deps, publisher: hanging });
    const claimed = await until(() => h.jobs.get(jobId), 'the dead delivery to claim the job');
    expect(claimed).toMatchObject({ status: 'received' });
    expect(Date.parse(claimed.leaseUntil as string)).toBeGreaterThan(Date.now());

    // The lock ran out; Service Bus hands the message to another instance.
    const result = await handleServiceBusBatch([body], metadata('m-1', 2), 'queue', h.deps);

    expect(result.retry).toBe(false);
    expect(result.outcomes).toEqual([expect.objectContaining({ jobId, status: 'published' })]);
    expect(h.receiver.events.filter((event) => event.id === result.outcomes[0]?.eventId)).toHaveLength(1);
    expect(await h.jobs.get(jobId)).toMatchObject({ status: 'published', attempts: 2, deliveryCount: 2 });
  });

  it('answers duplicate when the delivery holding the lease publishes while this one waits', async () => {
    const h = harness();
    const [body] = distinctContexts(1, 'lease-race') as [Buffer];
    const jobId = jobIdOf(body);
    // The first delivery is slow, not dead: its publish goes through after a moment.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: EventPublisher = { send: async (events) => gate.then(() => h.deps.publisher.send(events)) };
    const first = ingest([queueMessage(body, 'm-a')], { ...h.deps, publisher: slow });
    await until(() => h.jobs.get(jobId), 'the first delivery to claim the job');

    const second = handleServiceBusBatch([body], metadata('m-b', 1), 'queue', h.deps);
    release();
    const [firstResult, secondResult] = await Promise.all([first, second]);

    expect(firstResult.outcomes[0]).toMatchObject({ status: 'published' });
    expect(secondResult.retry).toBe(false);
    expect(secondResult.outcomes[0]).toMatchObject({
      jobId,
      status: 'duplicate',
      eventId: firstResult.outcomes[0]?.eventId,
    });
    expect(h.receiver.events.filter((event) => event.id === firstResult.outcomes[0]?.eventId)).toHaveLength(1);
  });

  it('still asks for a retry at once when the job is busy without a lease to wait for', async () => {
    // A context without an OperationId is keyed by its bytes. A readable copy left its job `failed`; the same bytes
    // under a content type that makes them unreadable reach that job and are busy, with no lease: waiting cannot
    // change that, so the batch is retried as before.
    const h = harness();
    const { OperationId: _, ...context } = rawContext('msdocs-usewebhooks-update-contact.json');
    const body = Buffer.from(dataContractJson(context));
    const down: EventPublisher = { send: () => Promise.reject(new Error('Event Grid is down')) };
    const [readable] = (await ingest([queueMessage(body)], { ...h.deps, publisher: down })).outcomes;
    expect(readable?.status).toBe('failed');

    const unreadable = { ...metadata('m-x', 1), contentTypeArray: ['application/msbin1'] };
    const error = await handleServiceBusBatch([body], unreadable, 'queue', h.deps).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RetryLaterError);
    const [busy] = (error as RetryLaterError).unsettled;
    expect(busy).toMatchObject({ jobId: readable?.jobId, status: 'busy' });
    expect(busy?.leaseUntil).toBeUndefined();
    expect((await h.jobs.get(readable?.jobId as string))?.status).toBe('failed');
  });
});
