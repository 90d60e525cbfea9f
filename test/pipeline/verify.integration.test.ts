/**
 * The hold of synchronous contexts against real local peers: the pipeline on Azurite (tables, blobs and the
 * verification queue), the real Event Grid client posting to a local receiver, and the Web API client against the
 * Dataverse double, whose rows play the operations that committed (or not).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterEach, describe, expect, it } from 'vitest';
import { projectChange } from '../../shared/changes/projectChanges.js';
import { replayJob } from '../../shared/connector/replay.js';
import { readContext } from '../../shared/dataverse/readContext.js';
import type { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { readHoldCheck } from '../../shared/pipeline/hold.js';
import { type IngestDeps, ingest } from '../../shared/pipeline/ingest.js';
import { operationCommitted, type VerifyDeps, verifyHeld } from '../../shared/pipeline/verify.js';
import { handleWebhook } from '../../shared/pipeline/webhook.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { StorageHoldQueue } from '../../shared/store/storageHoldQueue.js';
import type { DataverseDouble } from '../doubles/dataverse.js';
import { testAzurite } from '../helpers/azurite.js';
import { dataContractJson, entity, kv, rawContext, reference, typed } from '../helpers/contexts.js';
import { doubleClient, startContactDouble } from '../helpers/heldContexts.js';
import { freshChangeStore, type PipelineHarness, queueMessage, startPipeline } from '../helpers/pipeline.js';

const azurite = testAzurite();
const WINDOW = 60;

interface World {
  dataverse: DataverseDouble;
  api: WebApiClient;
  pipeline: PipelineHarness;
  /** The pipeline with the hold on. */
  deps: IngestDeps;
  verify: VerifyDeps;
  queue: ReturnType<QueueServiceClient['getQueueClient']>;
  /** The time the checks see (and the double's clock): moved by tests. */
  clock: { now: number };
  /** Messages waiting in the verification queue, visible or not. */
  waiting(): Promise<number>;
}

const worlds: World[] = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.pipeline.stop();
    await world.dataverse.stop();
    await world.queue.deleteIfExists();
  }
});

async function world(): Promise<World> {
  const clock = { now: Date.now() };
  const dataverse = await startContactDouble(() => new Date(clock.now));
  const api = doubleClient(dataverse.url);
  const pipeline = await startPipeline(azurite);
  const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
    `verify-${randomBytes(6).toString('hex')}`,
  );
  await queue.createIfNotExists();
  const holdQueue = new StorageHoldQueue(queue);
  const deps: IngestDeps = {
    ...pipeline.deps,
    now: () => new Date(clock.now),
    hold: { queue: holdQueue, delaySeconds: 1 },
  };
  const created: World = {
    dataverse,
    api,
    pipeline,
    deps,
    verify: {
      ingest: deps,
      api,
      queue: holdQueue,
      delaySeconds: 1,
      windowSeconds: WINDOW,
      now: () => new Date(clock.now),
    },
    queue,
    clock,
    async waiting() {
      return (await queue.getProperties()).approximateMessagesCount ?? 0;
    },
  };
  worlds.push(created);
  return created;
}

/** A synchronous post-operation context, as Dataverse posts it while the transaction is still open. */
function syncContext(
  message: string,
  id: string,
  at: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const target =
    message === 'Delete'
      ? reference('contact', id)
      : typed('Entity', entity('contact', id, { fullname: 'Ada Lovelace' }));
  return rawContext({
    MessageName: message,
    Mode: 0,
    Stage: 40,
    PrimaryEntityId: id,
    OperationId: randomUUID(),
    OperationCreatedOn: `/Date(${at})/`,
    InputParameters: kv({ Target: target }),
    ...overrides,
  });
}

async function post(world: World, context: Record<string, unknown>, deps: IngestDeps = world.deps) {
  const result = await ingest([queueMessage(Buffer.from(dataContractJson(context)))], deps);
  return result.outcomes[0] as NonNullable<(typeof result.outcomes)[number]>;
}

function published(world: World): string[] {
  return world.pipeline.receiver.events.map((event) => String((event as { id: unknown }).id));
}

describe('a synchronous context is held until Dataverse shows its operation committed', () => {
  it('Create whose row never appears: held, checked again within the window, then rolledBack; nothing published', async () => {
    const w = await world();
    const id = randomUUID();
    const context = syncContext('Create', id, w.clock.now);
    const held = await post(w, context);
    expect(held).toEqual({ jobId: held.jobId, status: 'held', eventId: eventIdFor(held.jobId) });
    expect(retryOf(held)).toBe(false);
    const job = await w.deps.jobs.get(held.jobId);
    expect(job).toMatchObject({ status: 'held', table: 'contact', message: 'Create', rowId: id });
    expect(job?.raw?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(job?.leaseUntil).toBeUndefined();
    expect(await w.waiting()).toBe(1);

    // Inside the window the row's absence only means "not yet": another check is queued.
    w.clock.now += 2_000;
    const first = await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify);
    expect(first).toMatchObject({ status: 'waiting', nextCheckSeconds: 1 });
    expect(await w.waiting()).toBe(2);
    const later = await verifyHeld({ jobId: held.jobId, check: 3 }, w.verify);
    expect(later).toMatchObject({ status: 'waiting', nextCheckSeconds: 8 });

    w.clock.now += WINDOW * 1000;
    const settled = await verifyHeld({ jobId: held.jobId, check: 4 }, w.verify);
    expect(settled).toMatchObject({ status: 'rolledBack', reason: 'the contact row does not exist' });
    expect(await w.deps.jobs.get(held.jobId)).toMatchObject({
      status: 'rolledBack',
      error: { code: 'RolledBack', message: expect.stringContaining(`Create of contact ${id}`) },
    });
    expect(published(w)).toEqual([]);

    // A late duplicate check, and a redelivery of the context, change nothing and publish nothing.
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'rolledBack' });
    expect(await post(w, context)).toMatchObject({ status: 'rolledBack', error: { code: 'RolledBack' } });
    expect(published(w)).toEqual([]);
  });

  it('Create whose row appears after a delay: published once, under the event id of its job', async () => {
    const w = await world();
    const id = randomUUID();
    const held = await post(w, syncContext('Create', id, w.clock.now));
    expect(held.status).toBe('held');
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'waiting' });

    w.clock.now += 3_000;
    w.dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada Lovelace' }]);
    // Two checks at once (a duplicate message): the job's ETag lets one publish.
    const results = await Promise.all([
      verifyHeld({ jobId: held.jobId, check: 1 }, w.verify),
      verifyHeld({ jobId: held.jobId, check: 1 }, w.verify),
    ]);
    expect(results.filter((r) => r.status === 'published')).toHaveLength(1);
    expect(['duplicate', 'retrying']).toContain(results.find((r) => r.status !== 'published')?.status);
    // Whatever the second one did, a later check finds it published.
    expect(await verifyHeld({ jobId: held.jobId, check: 2 }, w.verify)).toMatchObject({ status: 'duplicate' });
    expect(published(w)).toEqual([eventIdFor(held.jobId)]);
    const job = await w.deps.jobs.get(held.jobId);
    expect(job?.status).toBe('published');
    expect(job?.verifiedAt).toBeDefined();
    expect(job?.publishedAt).toBeDefined();
  });

  it('Delete: published once the row is gone; rolledBack when it is still there after the window', async () => {
    const w = await world();
    const [kept, removed] = w.dataverse.seedRows('contact', [{ fullname: 'Kept' }, { fullname: 'Removed' }]) as [
      string,
      string,
    ];
    const stays = await post(w, syncContext('Delete', kept, w.clock.now));
    const goes = await post(w, syncContext('Delete', removed, w.clock.now));
    expect([stays.status, goes.status]).toEqual(['held', 'held']);

    expect(await verifyHeld({ jobId: goes.jobId, check: 0 }, w.verify)).toMatchObject({
      status: 'waiting',
      reason: 'the contact row still exists',
    });
    await w.api.delete('contact', removed);
    expect(await verifyHeld({ jobId: goes.jobId, check: 1 }, w.verify)).toMatchObject({ status: 'published' });

    w.clock.now += (WINDOW + 1) * 1000;
    expect(await verifyHeld({ jobId: stays.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'rolledBack' });
    expect(published(w)).toEqual([eventIdFor(goes.jobId)]);
  });

  it('Update: published once modifiedon reaches the operation, compared at whole seconds', async () => {
    const w = await world();
    // The row was last written at a whole second; the update is dated 700 ms into the next one.
    w.clock.now = Math.floor(w.clock.now / 1000) * 1000;
    const [id] = w.dataverse.seedRows('contact', [{ fullname: 'Before' }]) as [string];
    const operation = w.clock.now + 1_700;
    const held = await post(w, syncContext('Update', id, operation));
    expect(held.status).toBe('held');
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify)).toMatchObject({
      status: 'waiting',
      reason: expect.stringContaining('before the operation'),
    });

    // The update commits within the same second as its operation time: modifiedon is that second, 300 ms earlier.
    w.clock.now += 1_999;
    await w.api.update('contact', id, { fullname: 'After' });
    expect(String(w.dataverse.row('contact', id)?.modifiedon)).toBe(
      new Date(Math.floor(operation / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    );
    expect(await verifyHeld({ jobId: held.jobId, check: 1 }, w.verify)).toMatchObject({ status: 'published' });
    expect(published(w)).toEqual([eventIdFor(held.jobId)]);
  });

  it('Update whose row never shows the change: rolledBack after the window', async () => {
    const w = await world();
    const [id] = w.dataverse.seedRows('contact', [{ fullname: 'Unchanged' }]) as [string];
    const held = await post(w, syncContext('Update', id, w.clock.now + 5_000));
    w.clock.now += (WINDOW + 10) * 1000;
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'rolledBack' });
    expect(published(w)).toEqual([]);
  });

  it('Create (or Update) whose row a later Delete removed before the check: published once the bridge has that Delete', async () => {
    const w = await world();
    const store = freshChangeStore(azurite);
    const verify: VerifyDeps = { ...w.verify, rows: store };
    const project = async (eventId: string) => {
      const event = w.pipeline.receiver.events.find((e) => (e as { id: unknown }).id === eventId);
      expect(await projectChange(event, { store })).toMatchObject({ status: 'projected', row: 'updated' });
    };
    // A row created, updated and deleted within a second or two, all by synchronous steps: Dataverse never shows it
    // to the checks of the Create and the Update.
    const id = randomUUID();
    const created = await post(w, syncContext('Create', id, w.clock.now));
    const updated = await post(w, syncContext('Update', id, w.clock.now + 400));
    const deleted = await post(w, syncContext('Delete', id, w.clock.now + 900));
    expect([created.status, updated.status, deleted.status]).toEqual(['held', 'held', 'held']);

    w.clock.now += 2_000;
    // Until the bridge has the Delete, a gone row is "not yet".
    expect(await verifyHeld({ jobId: created.jobId, check: 0 }, verify)).toMatchObject({
      status: 'waiting',
      reason: 'the contact row does not exist',
    });
    expect(await verifyHeld({ jobId: deleted.jobId, check: 0 }, verify)).toMatchObject({ status: 'published' });
    await project(eventIdFor(deleted.jobId));

    expect(await verifyHeld({ jobId: created.jobId, check: 1 }, verify)).toMatchObject({ status: 'published' });
    expect(await verifyHeld({ jobId: updated.jobId, check: 0 }, verify)).toMatchObject({ status: 'published' });
    expect(published(w).sort()).toEqual([created, updated, deleted].map((o) => eventIdFor(o.jobId)).sort());
    expect(await w.deps.jobs.get(created.jobId)).toMatchObject({ status: 'published', verifiedAt: expect.any(String) });

    // A Delete dated before the operation says nothing about it: a Create of a row deleted earlier (its id reused)
    // that never showed is still rolled back at the end of the window.
    const reused = await post(w, syncContext('Create', id, w.clock.now));
    w.clock.now += (WINDOW + 1) * 1000;
    expect(await verifyHeld({ jobId: reused.jobId, check: 0 }, verify)).toMatchObject({
      status: 'rolledBack',
      reason: 'the contact row does not exist',
    });
  });

  it('the snapshot unreadable while the row is gone: the check is retried, not rolled back', async () => {
    const w = await world();
    const failing = {
      getRow: async () => {
        throw new StorageUnavailableError('read row', 'table bridgerows');
      },
    };
    const held = await post(w, syncContext('Create', randomUUID(), w.clock.now));
    w.clock.now += (WINDOW + 1) * 1000;
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, { ...w.verify, rows: failing })).toMatchObject({
      status: 'retrying',
    });
    expect(await w.deps.jobs.get(held.jobId)).toMatchObject({
      status: 'held',
      error: { code: 'VerificationPending', message: expect.stringContaining('the check could not be made') },
    });
    expect(published(w)).toEqual([]);
  });

  it('Dataverse down: retried with back-off, never rolledBack, even past the window; published once it answers', async () => {
    const w = await world();
    const id = randomUUID();
    const held = await post(w, syncContext('Create', id, w.clock.now));
    w.dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada' }]);
    let down = true;
    w.dataverse.inject({ kind: 'status', status: 503 }, { times: 1_000, match: () => down });
    w.clock.now += (WINDOW + 1) * 1000;
    const retrying = await verifyHeld({ jobId: held.jobId, check: 2 }, w.verify);
    expect(retrying).toMatchObject({ status: 'retrying', nextCheckSeconds: 4 });
    expect(await w.deps.jobs.get(held.jobId)).toMatchObject({
      status: 'held',
      error: { code: 'VerificationPending', message: expect.stringContaining('Dataverse could not be asked') },
    });
    down = false;
    let throttled = true;
    w.dataverse.inject({ kind: 'throttle', retryAfterSeconds: 30 }, { times: 1_000, match: () => throttled });
    expect((await verifyHeld({ jobId: held.jobId, check: 3 }, w.verify)).status).toBe('retrying');
    expect(published(w)).toEqual([]);

    throttled = false;
    expect(await verifyHeld({ jobId: held.jobId, check: 4 }, w.verify)).toMatchObject({ status: 'published' });
    expect(await w.deps.jobs.get(held.jobId)).toMatchObject({ status: 'published' });
    expect(published(w)).toEqual([eventIdFor(held.jobId)]);
  });

  it('Event Grid down after the check: the verified job is retried and published later without a second check', async () => {
    const w = await world();
    const id = randomUUID();
    const held = await post(w, syncContext('Create', id, w.clock.now));
    w.dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada' }]);
    w.pipeline.receiver.setFault(() => 500);
    expect(await verifyHeld({ jobId: held.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'retrying' });
    expect(await w.deps.jobs.get(held.jobId)).toMatchObject({ status: 'failed', verifiedAt: expect.any(String) });

    // The row is deleted meanwhile: the check is not made again, the verified operation is published.
    await w.api.delete('contact', id);
    w.pipeline.receiver.setFault(() => 'ok');
    const reads = w.dataverse.count('retrieve');
    expect(await verifyHeld({ jobId: held.jobId, check: 1 }, w.verify)).toMatchObject({ status: 'published' });
    expect(w.dataverse.count('retrieve')).toBe(reads);
    expect(published(w)).toEqual([eventIdFor(held.jobId)]);
  });
});

describe('what the hold leaves alone, and how it recovers', () => {
  it('the guard off: a synchronous context is published at once, as before', async () => {
    const w = await world();
    const { hold: _hold, ...off } = w.deps;
    const outcome = await post(w, syncContext('Create', randomUUID(), w.clock.now), off);
    expect(outcome.status).toBe('published');
    expect(await w.waiting()).toBe(0);
  });

  it('asynchronous contexts, and synchronous ones about no row, are published at once', async () => {
    const w = await world();
    const async = await post(w, syncContext('Create', randomUUID(), w.clock.now, { Mode: 1 }));
    const unbound = await post(
      w,
      syncContext('new_DoSomething', '00000000-0000-0000-0000-000000000000', w.clock.now, {
        PrimaryEntityName: 'none',
        InputParameters: [],
      }),
    );
    expect([async.status, unbound.status]).toEqual(['published', 'published']);
    expect(await w.waiting()).toBe(0);
    expect(w.dataverse.count()).toBe(0);
  });

  it('a redelivery of a held context sends another check and publishes nothing', async () => {
    const w = await world();
    const context = syncContext('Create', randomUUID(), w.clock.now);
    const first = await post(w, context);
    const again = await post(w, context);
    expect(again).toEqual(first);
    expect(await w.waiting()).toBe(2);
    expect(published(w)).toEqual([]);
  });

  it('the queue unavailable: the job is failed with its bytes kept and the message retried; the retry holds it', async () => {
    const w = await world();
    const context = syncContext('Create', randomUUID(), w.clock.now);
    const down: IngestDeps = {
      ...w.deps,
      hold: {
        delaySeconds: 1,
        queue: {
          enqueue: async () => {
            throw new StorageUnavailableError('send verification message', 'queue bridge-verify');
          },
        },
      },
    };
    const failed = await post(w, context, down);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'StorageUnavailable' } });
    expect(await w.deps.jobs.get(failed.jobId)).toMatchObject({ status: 'failed', raw: { size: expect.any(Number) } });
    const retried = await post(w, context);
    expect(retried).toMatchObject({ jobId: failed.jobId, status: 'held' });
    expect(await w.waiting()).toBe(1);
    expect(published(w)).toEqual([]);
  });

  it('a check for no job, or for a job that is not waiting for one, is ignored', async () => {
    const w = await world();
    const lines: string[] = [];
    const log = { log: () => {}, warn: (line: string) => lines.push(line), error: () => {} };
    const unknown = randomBytes(16).toString('hex');
    expect(await verifyHeld({ jobId: unknown, check: 0 }, { ...w.verify, log })).toEqual({
      jobId: unknown,
      status: 'ignored',
      reason: 'no such job',
    });
    const rejected = await post(w, { not: 'a context' });
    expect(rejected.status).toBe('rejected');
    expect(await verifyHeld({ jobId: rejected.jobId, check: 0 }, { ...w.verify, log })).toMatchObject({
      status: 'ignored',
      reason: 'the job is rejected',
    });
    expect(lines).toEqual([
      `Verification message for job ${unknown} ignored: no such job.`,
      `Verification message for job ${rejected.jobId} ignored: the job is rejected.`,
    ]);
  });

  it('the webhook answers 200 with status held, so Dataverse does not fail the operation', async () => {
    const w = await world();
    const body = Buffer.from(dataContractJson(syncContext('Create', randomUUID(), w.clock.now)));
    const response = await handleWebhook({ body, headers: { 'content-type': 'application/json' } }, w.deps);
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ status: 'held' });
  });

  it('a check that finds the ingest died after sending it (job received, lease run out) goes on as held', async () => {
    const w = await world();
    const id = randomUUID();
    // The hold died after the bytes and the check were written, before the job was marked: simulate by a queue
    // that refuses the job update, i.e. a job store whose update throws after the enqueue.
    let failUpdates = true;
    const jobs = w.deps.jobs;
    const dying: IngestDeps = {
      ...w.deps,
      leaseSeconds: 1,
      jobs: {
        ...jobs,
        create: (job) => jobs.create(job),
        get: (jobId) => jobs.get(jobId),
        list: (query) => jobs.list(query),
        update: async (current, changes) => {
          if (failUpdates && changes.status === 'held') throw new Error('the process died');
          if (failUpdates && changes.status === 'failed') throw new Error('the process died');
          return jobs.update(current, changes);
        },
      },
    };
    const outcome = await post(w, syncContext('Create', id, w.clock.now), dying);
    expect(outcome.status).toBe('failed');
    failUpdates = false;
    expect(await jobs.get(outcome.jobId)).toMatchObject({ status: 'received' });
    expect(await w.waiting()).toBe(1);

    w.dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada' }]);
    // While its lease runs, the job belongs to the delivery that claimed it: checked again later.
    expect(await verifyHeld({ jobId: outcome.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'retrying' });
    w.clock.now += 2_000;
    expect(await verifyHeld({ jobId: outcome.jobId, check: 0 }, w.verify)).toMatchObject({ status: 'published' });
    expect(published(w)).toEqual([eventIdFor(outcome.jobId)]);
  });

  it('ReplayJob: a rolledBack job is published (the caller overrides the check); a held one gets another check', async () => {
    const w = await world();
    const rolled = await post(w, syncContext('Create', randomUUID(), w.clock.now));
    const held = await post(w, syncContext('Create', randomUUID(), w.clock.now));
    w.clock.now += (WINDOW + 1) * 1000;
    expect((await verifyHeld({ jobId: rolled.jobId, check: 0 }, w.verify)).status).toBe('rolledBack');

    const replayedHeld = await replayJob(held.jobId, w.deps);
    expect(replayedHeld).toMatchObject({ status: 200, jsonBody: { jobId: held.jobId, status: 'held' } });
    const replayed = await replayJob(rolled.jobId, w.deps);
    expect(replayed).toMatchObject({
      status: 200,
      jsonBody: { jobId: rolled.jobId, status: 'published', eventId: eventIdFor(rolled.jobId) },
    });
    expect(published(w)).toEqual([eventIdFor(rolled.jobId)]);
    expect(await w.deps.jobs.get(rolled.jobId)).toMatchObject({ status: 'published' });
  });

  it('the check messages on the queue are base64 JSON naming the job, invisible until the delay', async () => {
    const w = await world();
    const held = await post(w, syncContext('Create', randomUUID(), w.clock.now), {
      ...w.deps,
      hold: { queue: new StorageHoldQueue(w.queue), delaySeconds: 600 },
    });
    expect(held.status).toBe('held');
    expect(await w.waiting()).toBe(1);
    expect((await w.queue.peekMessages()).peekedMessageItems).toEqual([]);

    // The same adapter with no delay: the text as the Queue trigger reads it.
    await new StorageHoldQueue(w.queue).enqueue({ jobId: held.jobId, check: 2 }, 0);
    const [message] = (await w.queue.receiveMessages()).receivedMessageItems;
    const decoded = Buffer.from(message?.messageText ?? '', 'base64').toString('utf8');
    expect(JSON.parse(decoded)).toEqual({ jobId: held.jobId, check: 2 });
    expect(message?.expiresOn.getUTCFullYear()).toBe(9999); // messageTimeToLive -1: never expires
    expect(readHoldCheck(decoded)).toEqual({ jobId: held.jobId, check: 2 });
    expect(readHoldCheck({ jobId: held.jobId })).toEqual({ jobId: held.jobId, check: 0 });
    expect(readHoldCheck('not json')).toBeUndefined();
    expect(readHoldCheck({ jobId: 'nope' })).toBeUndefined();
  });
});

function retryOf(outcome: { status: string }): boolean {
  return outcome.status === 'failed' || outcome.status === 'busy';
}

describe('the rule for other messages', () => {
  it('a table without modifiedon, Associate and custom messages on a row: the row exists; no operation time: exists', async () => {
    const w = await world();
    w.dataverse.seedTable({ logicalName: 'new_plain', columns: [{ logicalName: 'name', type: 'String' }] });
    const [plain] = w.dataverse.seedRows('new_plain', [{ name: 'x' }]) as [string];
    const [contact] = w.dataverse.seedRows('contact', [{ fullname: 'Ada' }]) as [string];
    const read = (context: Record<string, unknown>) =>
      readContext(Buffer.from(dataContractJson(context)), { contentType: 'application/json' });
    const update = (table: string, id: string, extra: Record<string, unknown> = {}) =>
      read(syncContext('Update', id, w.clock.now + 60_000, { PrimaryEntityName: table, ...extra }));

    expect(await operationCommitted(update('new_plain', plain), w.api)).toEqual({
      committed: true,
      reason: 'the new_plain row exists',
    });
    // Dated a minute after the row was written: an Update would not count, an Associate only needs the row.
    expect((await operationCommitted(update('contact', contact), w.api)).committed).toBe(false);
    expect(await operationCommitted(read(syncContext('Associate', contact, w.clock.now + 60_000)), w.api)).toEqual({
      committed: true,
      reason: 'the contact row exists',
    });
    expect(
      (await operationCommitted(read(syncContext('new_BoundAction', randomUUID(), w.clock.now)), w.api)).committed,
    ).toBe(false);
    expect(await operationCommitted(update('contact', contact, { OperationCreatedOn: null }), w.api)).toMatchObject({
      committed: true,
      reason: 'the contact row exists (no operation time)',
    });
  });
});
