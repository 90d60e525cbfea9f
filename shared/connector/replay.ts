import { createHash } from 'node:crypto';
import { type IngestDeps, ingest, type OutcomeStatus } from '../pipeline/ingest.js';
import { JOB_ID_PATTERN } from '../pipeline/jobs.js';
import { transportOfJob } from '../pipeline/jobTransport.js';
import { type ApiResponse, apiError } from './responses.js';

/** What a replay did, as `POST /api/jobs/{id}/replay` answers it. */
export interface ReplayResult {
  /** The job the replayed message ended in: the same id, or a new one when a rejected body now reads as a context. */
  jobId: string;
  status: OutcomeStatus;
  eventId?: string;
  error?: { code: string; message: string; path?: string };
}

const REPLAYABLE = new Set(['rejected', 'failed', 'held', 'rolledBack']);

/**
 * `POST /api/jobs/{id}/replay`: runs a rejected, failed, held or rolled-back job's kept raw bytes through the pipeline
 * again, with the transport facts it arrived with, exactly as if it had just arrived (same dedupe, same event id). A
 * job that was rejected is tried again too (after a fix, it may now be read). A held job gets one more check sent
 * (answer `held`). A rolled-back job is published without checking again: replaying it is the caller's decision that
 * the operation did commit (for example a Create whose row was deleted before the first check). Answers 404 for an
 * unknown job and 409 for one in another status, or whose bytes are gone or altered.
 *
 * @example
 * await replayJob('0f3c…', deps); // { status: 200, jsonBody: { jobId: '0f3c…', status: 'published', eventId: '…' } }
 */
export async function replayJob(id: string, deps: IngestDeps): Promise<ApiResponse> {
  if (!JOB_ID_PATTERN.test(id)) {
    return apiError(400, 'InvalidParameter', 'id must be a job id: 32 hexadecimal characters.', 'id');
  }
  const job = await deps.jobs.get(id);
  if (!job) return apiError(404, 'NotFound', 'No job has this id.', 'id');
  if (!REPLAYABLE.has(job.status)) {
    return apiError(
      409,
      'NotReplayable',
      `Job ${id} is ${job.status}; only rejected, failed, held or rolledBack jobs can be replayed.`,
      'id',
    );
  }
  if (!job.raw) {
    return apiError(
      409,
      'NoRawBody',
      `Job ${id} has no kept body (storing it failed when it was recorded); the message can only be sent again by its sender.`,
      'id',
    );
  }
  const bytes = await deps.raw.get(job.raw.key);
  if (!bytes || createHash('sha256').update(bytes).digest('hex') !== job.raw.sha256) {
    return apiError(
      409,
      'RawBodyMissing',
      `The kept body of job ${id} is missing or does not match its recorded SHA-256; it cannot be replayed.`,
      'id',
    );
  }
  const [outcome] = (
    await ingest(
      [
        {
          body: bytes,
          source: job.source,
          transport: transportOfJob(job),
          ...(job.messageId === undefined ? {} : { messageId: job.messageId }),
        },
      ],
      { ...deps, retryRejected: true, ...(job.status === 'rolledBack' ? { releaseHeld: true } : {}) },
    )
  ).outcomes;
  if (!outcome) throw new Error(`Replaying job ${id} produced no outcome.`);
  if (outcome.jobId !== id) {
    // The body reads as a context now, so it is a job of its own; point the old record at it.
    await deps.jobs.update(job, { replayedAs: outcome.jobId, updatedAt: new Date().toISOString() });
  }
  const result: ReplayResult = {
    jobId: outcome.jobId,
    status: outcome.status,
    ...(outcome.eventId === undefined ? {} : { eventId: outcome.eventId }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
  };
  return { status: 200, jsonBody: result };
}
