/**
 * The job store: one record per context (or per rejected message), keyed by its dedupe key. It is both the
 * deduplication gate (create-if-absent, then optimistic concurrency on the ETag) and the queryable status of every
 * message, like Dataverse's System Jobs view but for our side.
 */

/** A job id (the dedupe key, see `jobKeyForContext`): 32 lower-case hexadecimal characters. */
export const JOB_ID_PATTERN = /^[0-9a-f]{32}$/;

/**
 * `received`: being processed (or was, by an invocation that died); `failed`: the last attempt hit a transient error;
 * `held`: a synchronous context waiting for Dataverse to show that its operation committed (`verifyHeld`);
 * `rolledBack`: a held context whose operation never showed within the window, so nothing was published.
 */
export type JobStatus = 'received' | 'published' | 'rejected' | 'failed' | 'held' | 'rolledBack';

/** Every job status, in the order the API lists them. */
export const JOB_STATUSES: readonly JobStatus[] = ['received', 'published', 'rejected', 'failed', 'held', 'rolledBack'];

/** Where the message came in. */
export type JobSource = 'queue' | 'topic' | 'webhook' | 'api' | 'reconciliation';

/** A reference to raw bytes kept in the {@link RawStore}. */
export interface RawRef {
  /** The key the bytes are stored under (the job id). */
  key: string;
  size: number;
  /** Hex SHA-256 of the bytes, so a replay can prove it read exactly what arrived. */
  sha256: string;
  contentType?: string;
}

/** What went wrong, as recorded on a job. Never contains secrets. */
export interface JobError {
  code: string;
  message: string;
  path?: string;
}

export interface JobRecord {
  /** The dedupe key; also the job id users see. */
  id: string;
  status: JobStatus;
  /** Deliveries that reached the pipeline for this job (duplicates and retries included). */
  attempts: number;
  /** First receipt, ISO 8601 UTC. */
  receivedAt: string;
  updatedAt: string;
  publishedAt?: string;
  /** A held job: when Dataverse showed its operation committed (a later attempt publishes without checking again). */
  verifiedAt?: string;
  /** While `received`, the invocation working on it owns it until this time; after it, another may take over. */
  leaseUntil?: string;
  source: JobSource;
  messageId?: string;
  deliveryCount?: number;
  /** The Dataverse table (primaryEntityName) and message (messageName), when the body could be read. */
  table?: string;
  message?: string;
  rowId?: string;
  operationId?: string;
  organizationId?: string;
  /** The CloudEvent id published (or to be published) for this job. */
  eventId?: string;
  error?: JobError;
  /** The raw bytes, kept for rejected, failed, held and rolled-back jobs so they can be replayed (and checked). */
  raw?: RawRef;
  /**
   * Set on a rejected job whose replay was read as a context this time (the reader was fixed): that context is a
   * job of its own, with this id.
   */
  replayedAs?: string;
  /** Transport facts needed to replay (content type, Dataverse properties/headers), as JSON. No secrets. */
  transport?: string;
  /** Opaque concurrency token; pass it back to {@link JobStore.update}. */
  etag: string;
}

/** The fields a new job starts with. */
export type NewJob = Omit<JobRecord, 'etag'>;

/** The fields an update may change. `undefined` leaves a field as it is; `null` clears it. */
export type JobChanges = {
  [K in Exclude<keyof JobRecord, Fixed | Required>]?: JobRecord[K] | null;
} & { [K in Required]?: JobRecord[K] };

/** Set once when the job is created. */
type Fixed = 'id' | 'etag' | 'receivedAt' | 'source';
/** Always present, so an update may change them but never clear them. */
type Required = 'status' | 'attempts' | 'updatedAt';

export interface JobQuery {
  status?: JobStatus;
  /** Only jobs received at or after this time. */
  since?: Date;
  /** Page size (default 50, at most 1000). */
  top?: number;
  /** Continuation token from the previous page. */
  continuation?: string;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Present when there are more results. */
  continuation?: string;
}

export interface JobStore {
  /** Creates the job unless one with the same id exists; then returns that one unchanged. */
  create(job: NewJob): Promise<{ created: boolean; job: JobRecord }>;
  /**
   * Merges `changes` into `current` (`undefined` keeps a field, `null` removes it) and writes the whole job in one
   * round trip, only if the stored job still has `current.etag`. Returns the job as written, with its new ETag, or
   * `undefined` when another writer changed it first (the caller re-reads and decides again).
   *
   * @example
   * const job = await jobs.get(id);
   * const next = job && (await jobs.update(job, { status: 'published', leaseUntil: null }));
   * if (next === undefined) {
   *   // lost the race: read again
   * }
   */
  update(current: JobRecord, changes: JobChanges): Promise<JobRecord | undefined>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Jobs matching the query, newest first where the backing store allows, paged. */
  list(query: JobQuery): Promise<JobPage>;
}

/** Byte-for-byte storage of message bodies that could not be published (any size). */
export interface RawStore {
  put(key: string, body: Uint8Array, contentType?: string): Promise<RawRef>;
  /** The exact bytes, or `undefined` when nothing is stored under the key. */
  get(key: string): Promise<Buffer | undefined>;
}
