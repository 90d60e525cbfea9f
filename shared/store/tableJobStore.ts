import type { TableClient, TableEntityResultPage } from '@azure/data-tables';
import type { JobChanges, JobPage, JobQuery, JobRecord, JobStore, NewJob } from '../pipeline/jobs.js';
import { checkContinuation, requireEtag, statusOf, toStorageError } from './errors.js';

/** The scalar properties a job is stored as: nested fields flattened, timestamps as ISO strings. */
type JobEntity = {
  partitionKey: string;
  rowKey: string;
} & Record<string, string | number>;

const DEFAULT_TOP = 50;
const MAX_TOP = 1000;

// Job fields holding instants. They are written in `toISOString()` form so that string comparison (the only kind a
// Table filter can do on strings) orders them, e.g. `receivedAt ge '2024-…'` in `list`.
const TIMESTAMPS = ['receivedAt', 'updatedAt', 'publishedAt', 'leaseUntil', 'verifiedAt'] as const;
const STRINGS = [
  'status',
  'source',
  'messageId',
  'table',
  'message',
  'rowId',
  'operationId',
  'organizationId',
  'eventId',
  'replayedAs',
  'transport',
] as const;
const NUMBERS = ['attempts', 'deliveryCount'] as const;

/**
 * {@link JobStore} over Azure Table Storage: one entity per job, partition key = job id, row key = `''`.
 *
 * Creation is an insert (409 means the job exists) and updates replace the whole entity conditioned on its ETag,
 * so the table itself is the deduplication gate. Takes a client, or a function that yields one (which may load the
 * SDK and create the table first, see `createStores`).
 *
 * @example
 * const jobs = new TableJobStore(TableClient.fromConnectionString(cs, 'bridgejobs'));
 * const { created, job } = await jobs.create(newJob);
 */
export class TableJobStore implements JobStore {
  private readonly client: () => Promise<TableClient>;

  constructor(client: TableClient | (() => Promise<TableClient>)) {
    this.client = typeof client === 'function' ? client : async () => client;
  }

  async create(job: NewJob): Promise<{ created: boolean; job: JobRecord }> {
    const client = await this.client();
    const entity = toEntity(job);
    // A job can vanish between our 409 and our read only if something deletes jobs; try again a couple of times.
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await client.createEntity(entity);
        return { created: true, job: fromEntity(entity, requireEtag(response.etag)) };
      } catch (error) {
        if (statusOf(error) !== 409) throw toStorageError(error, 'create job', `table ${client.tableName}`);
      }
      const existing = await this.get(job.id);
      if (existing !== undefined) return { created: false, job: existing };
      if (attempt === 3) throw new Error(`Job ${job.id} exists and is gone each time it is read.`);
    }
  }

  async update(current: JobRecord, changes: JobChanges): Promise<JobRecord | undefined> {
    const client = await this.client();
    const entity = toEntity(merge(current, changes));
    try {
      const response = await client.updateEntity(entity, 'Replace', { etag: current.etag });
      return fromEntity(entity, requireEtag(response.etag));
    } catch (error) {
      // 412: another writer changed it; 404: it was deleted. Either way our view is stale.
      const status = statusOf(error);
      if (status === 412 || status === 404) return undefined;
      throw toStorageError(error, 'update job', `table ${client.tableName}`);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const client = await this.client();
    try {
      const entity = await client.getEntity<Record<string, unknown>>(id, '');
      return fromEntity(entity, entity.etag);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toStorageError(error, 'read job', `table ${client.tableName}`);
    }
  }

  /**
   * One page of jobs matching the query. Newest first **within the page only**: the table orders by partition key,
   * which is the job id, so pages follow id order and only the page itself can be sorted. A page may hold fewer than
   * `top` jobs (even none) and still have a continuation: the service stops at partition and time boundaries.
   *
   * @throws {InvalidContinuationError} for a token that is not one this method returned.
   */
  async list(query: JobQuery): Promise<JobPage> {
    if (query.continuation !== undefined) checkContinuation(query.continuation);
    const client = await this.client();
    // Already loaded by whoever built the client, so this costs nothing at cold start.
    const { odata } = await import('@azure/data-tables');
    const filters: string[] = [];
    if (query.status !== undefined) filters.push(odata`status eq ${query.status}`);
    if (query.since !== undefined) filters.push(odata`receivedAt ge ${query.since.toISOString()}`);
    const top = Math.min(Math.max(Math.floor(query.top ?? DEFAULT_TOP), 1), MAX_TOP);
    try {
      const pages = client
        .listEntities<Record<string, unknown>>(
          filters.length > 0 ? { queryOptions: { filter: filters.join(' and ') } } : {},
        )
        .byPage({
          maxPageSize: top,
          ...(query.continuation === undefined ? {} : { continuationToken: query.continuation }),
        });
      const next = await pages.next();
      if (next.done) return { jobs: [] };
      const page: TableEntityResultPage<Record<string, unknown>> = next.value;
      const jobs = page.map((entity) => fromEntity(entity, entity.etag));
      jobs.sort((a, b) =>
        a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : a.id.localeCompare(b.id),
      );
      return page.continuationToken ? { jobs, continuation: page.continuationToken } : { jobs };
    } catch (error) {
      throw toStorageError(error, 'list jobs', `table ${client.tableName}`);
    }
  }
}

/** `current` with `changes` applied: `undefined` keeps a field, `null` removes it. The key fields never change. */
function merge(current: JobRecord, changes: JobChanges): JobRecord {
  const next: Record<string, unknown> = { ...current };
  for (const [field, value] of Object.entries(changes)) {
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  return { ...(next as unknown as JobRecord), id: current.id, receivedAt: current.receivedAt, source: current.source };
}

function toEntity(job: NewJob): JobEntity {
  const entity: JobEntity = { partitionKey: job.id, rowKey: '' };
  for (const field of STRINGS) {
    const value = job[field];
    if (value !== undefined) entity[field] = value;
  }
  for (const field of NUMBERS) {
    const value = job[field];
    if (value !== undefined) entity[field] = value;
  }
  for (const field of TIMESTAMPS) {
    const value = job[field];
    // Throws RangeError on a value that is not a date: a bug in the caller, not something to store.
    if (value !== undefined) entity[field] = new Date(value).toISOString();
  }
  if (job.error !== undefined) {
    entity.errorCode = job.error.code;
    entity.errorMessage = job.error.message;
    if (job.error.path !== undefined) entity.errorPath = job.error.path;
  }
  if (job.raw !== undefined) {
    entity.rawKey = job.raw.key;
    entity.rawSize = job.raw.size;
    entity.rawSha256 = job.raw.sha256;
    if (job.raw.contentType !== undefined) entity.rawContentType = job.raw.contentType;
  }
  return entity;
}

function fromEntity(entity: Record<string, unknown>, etag: string): JobRecord {
  const text = (field: string) => (typeof entity[field] === 'string' ? (entity[field] as string) : undefined);
  // Int64 values come back as bigint; ours are small, so a number is exact.
  const count = (field: string) => {
    const value = entity[field];
    return typeof value === 'number' || typeof value === 'bigint' ? Number(value) : undefined;
  };
  const job: Record<string, unknown> = { id: String(entity.partitionKey) };
  for (const field of [...STRINGS, ...TIMESTAMPS]) {
    const value = text(field);
    if (value !== undefined) job[field] = value;
  }
  for (const field of NUMBERS) {
    const value = count(field);
    if (value !== undefined) job[field] = value;
  }
  const errorCode = text('errorCode');
  if (errorCode !== undefined) {
    const path = text('errorPath');
    job.error = { code: errorCode, message: text('errorMessage') ?? '', ...(path === undefined ? {} : { path }) };
  }
  const rawKey = text('rawKey');
  if (rawKey !== undefined) {
    const contentType = text('rawContentType');
    job.raw = {
      key: rawKey,
      size: count('rawSize') ?? 0,
      sha256: text('rawSha256') ?? '',
      ...(contentType === undefined ? {} : { contentType }),
    };
  }
  job.etag = etag;
  return job as unknown as JobRecord;
}
