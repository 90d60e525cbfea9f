/**
 * The check of a held synchronous context (see `hold.ts`): did its operation commit? Run by the Queue-triggered
 * `verifyHeld` for each message of the verification queue; publishes through the ingest pipeline when it did, records
 * the job `rolledBack` when it never showed within the window, and checks again later otherwise.
 */
import { createHash } from 'node:crypto';
import type { ChangeReader } from '../changes/types.js';
import { readContext } from '../dataverse/readContext.js';
import type { NormalizedContext } from '../dataverse/types.js';
import { isDataverseError } from '../dataverseApi/errors.js';
import type { DataverseApi } from '../dataverseApi/types.js';
import type { Logger } from '../logger.js';
import type { HoldCheck, HoldQueue } from './hold.js';
import { type IngestDeps, ingest } from './ingest.js';
import type { JobError, JobRecord } from './jobs.js';
import { transportOfJob } from './jobTransport.js';

/** What a check needs: the pipeline (with its job and raw stores), Dataverse, the queue and the settings. */
export interface VerifyDeps {
  ingest: IngestDeps;
  /**
   * The app's Dataverse client; absent when `DATAVERSE_URL` was unset after jobs were held: they are then published
   * without a check, as every synchronous context is without Dataverse.
   */
  api?: DataverseApi;
  /**
   * The bridge's row snapshots (kept by `projectChanges`): a row that is gone but whose Delete the bridge saw, dated
   * after the operation, existed after it, so the operation committed.
   */
  rows?: Pick<ChangeReader, 'getRow'>;
  queue: HoldQueue;
  /** `BRIDGE_VERIFY_DELAY_SECONDS`: the first check's delay, and the base of the back-off between checks. */
  delaySeconds: number;
  /** `BRIDGE_VERIFY_WINDOW_SECONDS`: how long after receipt an operation may take to show. */
  windowSeconds: number;
  now?: () => Date;
  log?: Logger;
}

/**
 * What one check did:
 * - `published` / `duplicate`: the operation committed and its event went out (now, or before);
 * - `rolledBack`: it never showed within the window (now, or an earlier check said so);
 * - `waiting`: not yet: another check is queued (`nextCheckSeconds`);
 * - `retrying`: Dataverse (or the publish) was unavailable: another check is queued, the job stays held;
 * - `ignored`: the message names no job that waits for a check (unknown, rejected), with the reason logged.
 */
export interface VerifyResult {
  jobId?: string;
  status: 'published' | 'duplicate' | 'rolledBack' | 'waiting' | 'retrying' | 'ignored';
  nextCheckSeconds?: number;
  reason?: string;
}

/** The verdict of the rule for one context. */
export interface Verdict {
  committed: boolean;
  /** Why, in words for the job record and the log. */
  reason: string;
}

/** The longest wait between two checks of a job that has not shown yet. */
const MAX_CHECK_INTERVAL_SECONDS = 60;
/** The longest wait between two checks while Dataverse or the publish is unavailable. */
const MAX_RETRY_INTERVAL_SECONDS = 300;
/** Messages whose row changes, so a committed one leaves `modifiedon` at or after the operation. */
const ROW_WRITES = new Set(['update', 'assign', 'setstate', 'setstatedynamicentity']);

/**
 * The rule: does Dataverse now show the context's operation as committed?
 * - `Create`: the row exists;
 * - `Delete`: the row is gone;
 * - `Update`, `Assign`, `SetState`, `SetStateDynamicEntity`: the row exists and its `modifiedon` is not older than
 *   `operationCreatedOn`, compared at whole seconds, because Dataverse keeps `modifiedon` to the second (a table
 *   without `modifiedon`: the row exists);
 * - any other message about a row (`Associate`, a bound custom API, …): the row exists; what such a message changed
 *   cannot be seen, so a rolled-back one on a row that still exists is published;
 * - for every message but `Delete`, a row that is gone counts as committed when the bridge's snapshot of it (`rows`)
 *   is a tombstone dated at or after the operation: the row existed after the operation, and a later Delete (in the
 *   same few seconds, say) removed it. Without that Delete seen, a gone row is "not yet", then rolled back.
 * Contexts without a row are never held (`needsHold`). Dataverse errors are thrown (a missing row is not an error).
 *
 * @example
 * await operationCommitted(context, api); // { committed: true, reason: 'the contact row exists' }
 */
export async function operationCommitted(
  context: NormalizedContext,
  api: DataverseApi,
  rows?: Pick<ChangeReader, 'getRow'>,
): Promise<Verdict> {
  const table = context.primaryEntityName;
  const id = context.primaryEntityId;
  const message = context.messageName.toLowerCase();
  const metadata = await api.getTable(table);
  const compareModifiedOn =
    ROW_WRITES.has(message) && metadata.columns.some((column) => column.logicalName === 'modifiedon');
  let row: Record<string, unknown> | undefined;
  try {
    row = await api.retrieve(table, id, {
      select: [metadata.primaryIdAttribute, ...(compareModifiedOn ? ['modifiedon'] : [])],
    });
  } catch (error) {
    if (!(isDataverseError(error) && error.status === 404)) throw error;
  }
  if (message === 'delete') {
    return row
      ? { committed: false, reason: `the ${table} row still exists` }
      : { committed: true, reason: `the ${table} row is gone` };
  }
  const operation = Date.parse(context.operationCreatedOn ?? '');
  if (!row) {
    const deletedAt = await deletedSince(table, id, operation, rows);
    return deletedAt
      ? {
          committed: true,
          reason: `the ${table} row is gone, deleted at ${deletedAt} (a Delete the bridge received), after the operation`,
        }
      : { committed: false, reason: `the ${table} row does not exist` };
  }
  if (!compareModifiedOn) return { committed: true, reason: `the ${table} row exists` };
  const modifiedOn = Date.parse(String(row.modifiedon ?? ''));
  if (Number.isNaN(operation)) return { committed: true, reason: `the ${table} row exists (no operation time)` };
  if (Number.isNaN(modifiedOn)) return { committed: false, reason: `the ${table} row has no modifiedon` };
  // modifiedon is whole seconds: an operation at 12:00:00.700 that committed shows as 12:00:00.
  const operationSecond = Math.floor(operation / 1000) * 1000;
  return modifiedOn >= operationSecond
    ? { committed: true, reason: `the ${table} row was modified at ${new Date(modifiedOn).toISOString()}` }
    : {
        committed: false,
        reason: `the ${table} row was last modified at ${new Date(modifiedOn).toISOString()}, before the operation (${context.operationCreatedOn})`,
      };
}

/** When the bridge's snapshot of the row is a tombstone dated at or after `operation`: the Delete's time. */
async function deletedSince(
  table: string,
  id: string,
  operation: number,
  rows: Pick<ChangeReader, 'getRow'> | undefined,
): Promise<string | undefined> {
  if (!rows || Number.isNaN(operation)) return undefined;
  const snapshot = await rows.getRow(table, id);
  return snapshot?.deleted && Date.parse(snapshot.updatedAt) >= operation ? snapshot.updatedAt : undefined;
}

/**
 * Runs one check of a held job (one message of the verification queue). Idempotent: a duplicate message, or two
 * checks at once, publish at most once (the job's ETag decides), and a settled job is left as it is.
 *
 * Throws only when storage fails (the job or its bytes cannot be read or written, the queue refuses a message): the
 * Queue trigger then retries the message, and after its `maxDequeueCount` moves it to the poison queue; the job stays
 * held, and `ReplayJob` sends it a new check.
 *
 * @example
 * await verifyHeld({ jobId: '0123…', check: 0 }, deps); // { jobId, status: 'published' }
 */
export async function verifyHeld(check: HoldCheck, deps: VerifyDeps): Promise<VerifyResult> {
  const now = deps.now?.() ?? new Date();
  const jobs = deps.ingest.jobs;
  for (let attempt = 0; attempt < 5; attempt++) {
    const job = await jobs.get(check.jobId);
    if (!job) return ignored(deps, check.jobId, 'no such job');
    switch (job.status) {
      case 'published':
        return { jobId: job.id, status: 'duplicate' };
      case 'rolledBack':
        return { jobId: job.id, status: 'rolledBack', ...(job.error ? { reason: job.error.message } : {}) };
      case 'rejected':
        return ignored(deps, job.id, 'the job is rejected');
      case 'received':
        // Being processed right now (the ingest that holds it has not marked it yet, or a release is publishing).
        // Once its lease has run out, the process that held it died after sending this check: go on as if held.
        if (job.leaseUntil !== undefined && Date.parse(job.leaseUntil) > now.getTime()) {
          return requeue(deps, check, 'retrying', 'the job is being processed', MAX_RETRY_INTERVAL_SECONDS);
        }
        break;
      default:
        break;
    }
    const kept = await keptContext(job, deps);
    if (!kept) return ignored(deps, job.id, 'its kept body is missing or altered');
    const { context } = kept;

    if (job.verifiedAt === undefined && deps.api === undefined) {
      deps.log?.warn(`Job ${job.id} published without a check: DATAVERSE_URL is not set.`);
    } else if (job.verifiedAt === undefined && deps.api) {
      let verdict: Verdict;
      try {
        verdict = await operationCommitted(context, deps.api, deps.rows);
      } catch (error) {
        // Unavailable, throttled, or refusing the app (or the snapshot unreadable): never a reason to call the
        // operation rolled back.
        const reason = isDataverseError(error)
          ? `Dataverse could not be asked: ${error.code}: ${error.message}`
          : `the check could not be made: ${(error as Error).message}`;
        await note(deps, job, { code: 'VerificationPending', message: reason });
        return requeue(deps, check, 'retrying', reason, MAX_RETRY_INTERVAL_SECONDS);
      }
      if (!verdict.committed) {
        const deadline = Date.parse(job.receivedAt) + deps.windowSeconds * 1000;
        if (now.getTime() < deadline) {
          const left = Math.ceil((deadline - now.getTime()) / 1000);
          return requeue(deps, check, 'waiting', verdict.reason, Math.min(MAX_CHECK_INTERVAL_SECONDS, left));
        }
        const error: JobError = {
          code: 'RolledBack',
          message: `The ${context.messageName} of ${context.primaryEntityName} ${context.primaryEntityId} did not show in Dataverse within ${deps.windowSeconds} s of its receipt (${verdict.reason}): its transaction was rolled back, so nothing was published.`,
        };
        const settled = await jobs.update(job, {
          status: 'rolledBack',
          error,
          leaseUntil: null,
          updatedAt: now.toISOString(),
        });
        if (!settled) continue; // another check or delivery changed the job: look again
        deps.log?.warn(`Job ${job.id} rolled back: ${error.message}`);
        return { jobId: job.id, status: 'rolledBack', reason: verdict.reason };
      }
      // Recorded before publishing, so a later attempt (a failed publish retried, a replay) does not check again.
      const verified = await jobs.update(job, { verifiedAt: now.toISOString(), updatedAt: now.toISOString() });
      if (!verified) continue;
      deps.log?.log(`Job ${job.id} verified: ${verdict.reason}.`);
    }
    return release(job, kept.bytes, check, deps);
  }
  return requeue(deps, check, 'retrying', 'the job kept changing while it was checked', MAX_RETRY_INTERVAL_SECONDS);
}

/** Publishes a verified job through the pipeline, exactly as ingest would have (same event id, enrichment, fan-out). */
async function release(job: JobRecord, bytes: Buffer, check: HoldCheck, deps: VerifyDeps): Promise<VerifyResult> {
  const result = await ingest(
    [
      {
        body: bytes,
        source: job.source,
        transport: transportOfJob(job),
        ...(job.messageId === undefined ? {} : { messageId: job.messageId }),
        ...(job.deliveryCount === undefined ? {} : { deliveryCount: job.deliveryCount }),
      },
    ],
    { ...deps.ingest, releaseHeld: true },
  );
  const outcome = result.outcomes[0];
  if (outcome?.status === 'published' || outcome?.status === 'duplicate') {
    return { jobId: job.id, status: outcome.status };
  }
  if (outcome?.status === 'rolledBack') return { jobId: job.id, status: 'rolledBack' };
  // failed (Event Grid or storage down) or busy (another delivery is publishing it): check again later.
  const reason = outcome?.error?.message ?? `the publish ended ${outcome?.status ?? 'with no outcome'}`;
  return requeue(deps, check, 'retrying', reason, MAX_RETRY_INTERVAL_SECONDS);
}

/** The job's kept bytes and its context read again from them; `undefined` when they are gone or altered. */
async function keptContext(
  job: JobRecord,
  deps: VerifyDeps,
): Promise<{ bytes: Buffer; context: NormalizedContext } | undefined> {
  // A job the ingest died holding has its bytes under its id but no `raw` yet (see `IngestRun.hold`).
  const bytes = await deps.ingest.raw.get(job.raw?.key ?? job.id);
  if (!bytes) return undefined;
  if (job.raw && createHash('sha256').update(bytes).digest('hex') !== job.raw.sha256) return undefined;
  try {
    return { bytes, context: readContext(bytes, transportOfJob(job)) };
  } catch {
    return undefined;
  }
}

/**
 * Sends the next check, after a back-off that doubles with each check from the first delay up to `maxSeconds`
 * (never less than a second).
 */
async function requeue(
  deps: VerifyDeps,
  check: HoldCheck,
  status: 'waiting' | 'retrying',
  reason: string,
  maxSeconds: number,
): Promise<VerifyResult> {
  const backOff = deps.delaySeconds * 2 ** Math.min(check.check, 16);
  const nextCheckSeconds = Math.max(1, Math.min(backOff, maxSeconds, MAX_RETRY_INTERVAL_SECONDS));
  await deps.queue.enqueue({ jobId: check.jobId, check: check.check + 1 }, nextCheckSeconds);
  if (status === 'retrying') deps.log?.warn(`Job ${check.jobId}: checking again in ${nextCheckSeconds} s: ${reason}`);
  return { jobId: check.jobId, status, nextCheckSeconds, reason };
}

/** Records why a held job is still held (best effort: the check goes on either way). */
async function note(deps: VerifyDeps, job: JobRecord, error: JobError): Promise<void> {
  if (job.status !== 'held') return;
  try {
    await deps.ingest.jobs.update(job, { error, updatedAt: (deps.now?.() ?? new Date()).toISOString() });
  } catch (failure) {
    deps.log?.warn(`Job ${job.id}: could not record why it is still held: ${(failure as Error).message}`);
  }
}

function ignored(deps: VerifyDeps, jobId: string, reason: string): VerifyResult {
  deps.log?.warn(`Verification message for job ${jobId} ignored: ${reason}.`);
  return { jobId, status: 'ignored', reason };
}
