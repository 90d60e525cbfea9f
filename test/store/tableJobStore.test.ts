import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../shared/errors.js';
import type { JobError, JobRecord, NewJob, RawRef } from '../../shared/pipeline/jobs.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { TableJobStore } from '../../shared/store/tableJobStore.js';
import { testAzurite, unreachableConnectionString } from '../helpers/azurite.js';

const azurite = testAzurite();

/** A store over a fresh table, so tests never see each other's jobs. */
async function freshStore(): Promise<{ store: TableJobStore; client: TableClient }> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `jobs${randomBytes(6).toString('hex')}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  return { store: new TableJobStore(client), client };
}

const jobId = () => randomBytes(16).toString('hex');

/** A job with every field set, so a round trip proves each one is stored. */
function fullJob(id: string): Required<NewJob> & { error: Required<JobError>; raw: Required<RawRef> } {
  return {
    id,
    status: 'rejected',
    attempts: 2,
    receivedAt: '2024-05-01T10:00:00.000Z',
    updatedAt: '2024-05-01T10:00:01.250Z',
    publishedAt: '2024-05-01T10:00:02.000Z',
    verifiedAt: '2024-05-01T10:00:01.500Z',
    leaseUntil: '2024-05-01T10:01:00.000Z',
    source: 'queue',
    messageId: 'msg-1',
    deliveryCount: 3,
    table: 'account',
    message: 'Update',
    rowId: '7d9d5c5b-2f4e-4a5e-9a43-5d2c1e0b9f10',
    operationId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    organizationId: '3c2f1e0d-aaaa-bbbb-cccc-000000000001',
    eventId: '01234567-89ab-8def-8123-456789abcdef',
    replayedAs: 'fedcba9876543210fedcba9876543210',
    error: { code: 'NotJson', message: "Unexpected token 'x' at 0", path: '$.InputParameters[0]' },
    raw: { key: id, size: 300_000, sha256: 'ab'.repeat(32), contentType: 'application/json; charset=utf-8' },
    transport: JSON.stringify({ contentType: 'application/json', properties: { 'x-ms-dynamics-entity-name': 'a' } }),
  };
}

function minimalJob(id: string, overrides: Partial<NewJob> = {}): NewJob {
  const now = new Date().toISOString();
  return { id, status: 'received', attempts: 1, receivedAt: now, updatedAt: now, source: 'queue', ...overrides };
}

describe('TableJobStore create and get', () => {
  it('round-trips every field, including the error and raw references', async () => {
    const { store } = await freshStore();
    const job = fullJob(jobId());
    const created = await store.create(job);
    expect(created.created).toBe(true);
    expect(created.job).toEqual({ ...job, etag: expect.any(String) });
    expect(created.job.etag).not.toBe('');
    expect(await store.get(job.id)).toEqual(created.job);
  });

  it('stores flat scalar properties: ISO strings for times, numbers for counts', async () => {
    const { store, client } = await freshStore();
    const job = fullJob(jobId());
    await store.create(job);
    const entity = await client.getEntity<Record<string, unknown>>(job.id, '');
    expect(entity).toMatchObject({
      partitionKey: job.id,
      rowKey: '',
      receivedAt: '2024-05-01T10:00:00.000Z',
      attempts: 2,
      deliveryCount: 3,
      errorCode: 'NotJson',
      errorMessage: job.error.message,
      errorPath: job.error.path,
      rawKey: job.id,
      rawSize: 300_000,
      rawSha256: job.raw.sha256,
      rawContentType: job.raw.contentType,
    });
    expect(entity).not.toHaveProperty('error');
    expect(entity).not.toHaveProperty('raw');
    expect(entity).not.toHaveProperty('id');
  });

  it('writes timestamps in toISOString form so they compare as strings', async () => {
    const { store } = await freshStore();
    const id = jobId();
    const { job } = await store.create(minimalJob(id, { receivedAt: '2024-05-01T10:00:00Z' }));
    expect(job.receivedAt).toBe('2024-05-01T10:00:00.000Z');
  });

  it('returns the existing job unchanged, with created: false, when the id exists', async () => {
    const { store } = await freshStore();
    const id = jobId();
    const first = await store.create(minimalJob(id, { messageId: 'first' }));
    const second = await store.create(minimalJob(id, { messageId: 'second', attempts: 9 }));
    expect(second).toEqual({ created: false, job: first.job });
  });

  it('lets exactly one of five concurrent creates of one id win', async () => {
    const { store } = await freshStore();
    const id = jobId();
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => store.create(minimalJob(id, { messageId: `writer-${n}` }))),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    const winner = results.find((result) => result.created)?.job;
    for (const result of results) expect(result.job).toEqual(winner);
    expect(await store.get(id)).toEqual(winner);
  });

  it('returns undefined for a missing id', async () => {
    const { store } = await freshStore();
    expect(await store.get(jobId())).toBeUndefined();
  });
});

describe('TableJobStore update', () => {
  it('applies changes with the current etag: a value sets, null removes, undefined keeps', async () => {
    const { store } = await freshStore();
    const { job } = await store.create(fullJob(jobId()));
    const updated = await store.update(job, {
      status: 'published',
      attempts: 3,
      error: null,
      leaseUntil: null,
      raw: { key: job.id, size: 1, sha256: 'cd'.repeat(32) },
      messageId: undefined,
    });
    const { error: _error, leaseUntil: _leaseUntil, etag: _etag, ...kept } = job;
    expect(updated).toEqual({
      ...kept,
      status: 'published',
      attempts: 3,
      raw: { key: job.id, size: 1, sha256: 'cd'.repeat(32) },
      etag: expect.any(String),
    });
    expect(updated?.etag).not.toBe(job.etag);
    expect(updated?.messageId).toBe('msg-1');
    expect(updated).not.toHaveProperty('error');
    expect(updated).not.toHaveProperty('leaseUntil');
    expect(await store.get(job.id)).toEqual(updated);
  });

  it('returns undefined when another writer changed the job first, and succeeds after a re-read', async () => {
    const { store } = await freshStore();
    const id = jobId();
    await store.create(minimalJob(id));
    const [seenByA, seenByB] = await Promise.all([store.get(id), store.get(id)]);
    if (seenByA === undefined || seenByB === undefined) throw new Error('job not found');

    const byA = await store.update(seenByA, { status: 'published', publishedAt: '2024-05-01T10:00:00.000Z' });
    expect(byA?.status).toBe('published');
    expect(await store.update(seenByB, { status: 'failed', attempts: 2 })).toBeUndefined();
    expect(await store.get(id)).toEqual(byA);

    const reread = (await store.get(id)) as JobRecord;
    const byB = await store.update(reread, { attempts: 2 });
    expect(byB).toMatchObject({ status: 'published', attempts: 2, publishedAt: '2024-05-01T10:00:00.000Z' });
  });

  it('returns undefined when the job was deleted', async () => {
    const { store, client } = await freshStore();
    const { job } = await store.create(minimalJob(jobId()));
    await client.deleteEntity(job.id, '');
    expect(await store.update(job, { status: 'failed' })).toBeUndefined();
  });
});

describe('TableJobStore list', () => {
  const base = Date.parse('2024-06-01T00:00:00.000Z');
  const receivedAt = (i: number) => new Date(base + i * 60_000).toISOString();
  let store: TableJobStore;
  let jobs: JobRecord[];

  beforeAll(async () => {
    ({ store } = await freshStore());
    // Ids are random, so the table's (id) order differs from receivedAt order.
    jobs = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const status = i % 3 === 0 ? 'published' : 'received';
        return (await store.create(minimalJob(jobId(), { status, receivedAt: receivedAt(i) }))).job;
      }),
    );
  });

  const idsOf = (list: JobRecord[]) => list.map((job) => job.id).sort();
  const isNewestFirst = (list: JobRecord[]) =>
    list.every((job, i) => i === 0 || (list[i - 1]?.receivedAt ?? '') >= job.receivedAt);

  it('returns everything in one page by default (top 50), newest first', async () => {
    const page = await store.list({});
    expect(idsOf(page.jobs)).toEqual(idsOf(jobs));
    expect(page.continuation).toBeUndefined();
    expect(page.jobs[0]?.receivedAt).toBe(receivedAt(24));
    expect(isNewestFirst(page.jobs)).toBe(true);
  });

  it('filters by status', async () => {
    const page = await store.list({ status: 'published' });
    expect(idsOf(page.jobs)).toEqual(idsOf(jobs.filter((job) => job.status === 'published')));
    expect(page.jobs).toHaveLength(9);
  });

  it('filters by since, inclusive', async () => {
    const page = await store.list({ since: new Date(receivedAt(20)) });
    expect(page.jobs.map((job) => job.receivedAt)).toEqual([24, 23, 22, 21, 20].map(receivedAt));
  });

  it('combines status and since', async () => {
    const page = await store.list({ status: 'published', since: new Date(receivedAt(10)) });
    expect(page.jobs.map((job) => job.receivedAt)).toEqual([24, 21, 18, 15, 12].map(receivedAt));
  });

  it('pages through with the continuation, returning each job exactly once, newest first within a page', async () => {
    const seen: JobRecord[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const page = await store.list({ top: 10, ...(continuation === undefined ? {} : { continuation }) });
      expect(page.jobs.length).toBeLessThanOrEqual(10);
      expect(isNewestFirst(page.jobs)).toBe(true);
      seen.push(...page.jobs);
      continuation = page.continuation;
      pages++;
    } while (continuation !== undefined && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(25);
    expect(idsOf(seen)).toEqual(idsOf(jobs));
  });

  it('clamps top to at least 1', async () => {
    const page = await store.list({ top: 0 });
    expect(page.jobs).toHaveLength(1);
    expect(page.continuation).toEqual(expect.any(String));
  });
});

describe('TableJobStore when storage is unavailable', () => {
  /** A table client for a port nobody listens on, without SDK retries so the test is quick. */
  async function unreachableClient(): Promise<TableClient> {
    const connectionString = await unreachableConnectionString(azurite, 'Table');
    return TableClient.fromConnectionString(connectionString, 'downjobs', {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
  }

  async function failure(promise: Promise<unknown>): Promise<StorageUnavailableError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageUnavailableError);
    return error as StorageUnavailableError;
  }

  it('raises StorageUnavailableError naming the operation and table, with no account key', async () => {
    const store = new TableJobStore(await unreachableClient());
    const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] as string;
    const errors = [
      await failure(store.create(minimalJob(jobId()))),
      await failure(store.get(jobId())),
      await failure(store.update({ ...minimalJob(jobId()), etag: 'W/"x"' }, { status: 'failed' })),
      await failure(store.list({ status: 'failed' })),
    ];
    expect(errors.map((error) => error.operation)).toEqual(['create job', 'read job', 'update job', 'list jobs']);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TransientError);
      expect(error.code).toBe('StorageUnavailable');
      expect(error.reason).toBe('ECONNREFUSED');
      expect(error.message).toContain('table downjobs');
      expect(error.message).toContain(error.operation);
      expect(error.message).not.toMatch(/AccountKey/i);
      expect(error.message).not.toContain(key);
      expect(JSON.stringify(error)).not.toContain(key);
    }
  });

  it('raises StorageUnavailableError when the service answers 503, and passes a 403 through', async () => {
    let status = 503;
    const server = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { value: 'busy' } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const connectionString = azurite.connectionString.replace(
        /TableEndpoint=[^;]+/,
        `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1`,
      );
      const client = TableClient.fromConnectionString(connectionString, 'busyjobs', {
        allowInsecureConnection: true,
        retryOptions: { maxRetries: 0 },
      });
      const store = new TableJobStore(client);
      const error = await failure(store.get(jobId()));
      expect(error.reason).toBe('503');
      expect(error.message).toContain('read job on table busyjobs');

      status = 403;
      const forbidden = await store.get(jobId()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(forbidden).not.toBeInstanceOf(StorageUnavailableError);
      expect(forbidden).toMatchObject({ statusCode: 403 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
