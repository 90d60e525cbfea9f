import { eventIdFor } from '../events/eventId.js';
import type { IngestOutcome } from './ingest.js';

/** A plain HTTP response: the function file turns it into the Functions response type. */
export interface OutcomeResponse {
  status: number;
  headers?: Record<string, string>;
  jsonBody: unknown;
}

/** How one HTTP surface words the answer; the status of each outcome is the same for all. */
export interface OutcomeStyle {
  /** The status of a settled outcome (published, duplicate, held, rolledBack): 200 for Dataverse's webhook, 202 for `PublishEvent`. */
  accepted: 200 | 202;
  /** What a rejection's default message calls the input (`The message was rejected.`). */
  noun: 'message' | 'event';
  /** Error bodies carry `jobId` beside `error` (the webhook's do: Dataverse shows the body in System Jobs). */
  jobIdInErrors: boolean;
  /** The `error` of a 503; by default the outcome's own code and message. */
  retryError?: (outcome: IngestOutcome) => { code: string; message: string };
}

/**
 * The one mapping of an ingest outcome to HTTP, for every surface that ingests over HTTP (the Dataverse webhook,
 * the connector's `PublishEvent`):
 * - `published`, `duplicate`: `accepted` with `{ jobId, eventId, status }`;
 * - `held` (a synchronous context kept until its operation is verified) and `rolledBack` (an earlier check found it
 *   never committed): `accepted` too, with the same body. Settled: Dataverse must not retry, and a synchronous step
 *   must not fail its operation because of the hold;
 * - `rejected`: 400 with the reason as `{ error: { code, message, target? } }` (bad input: retrying cannot help);
 * - `failed`, `busy`: 503 with `Retry-After` (see {@link retryAfter}), so the caller retries.
 *
 * @example
 * outcomeResponse(outcome, deps.leaseSeconds, { accepted: 200, noun: 'message', jobIdInErrors: true });
 * // { status: 200, jsonBody: { jobId: '…', eventId: '…', status: 'published' } }
 */
export function outcomeResponse(outcome: IngestOutcome, leaseSeconds: number, style: OutcomeStyle): OutcomeResponse {
  const withJob = (error: Record<string, unknown>) =>
    style.jobIdInErrors ? { error, jobId: outcome.jobId } : { error };
  switch (outcome.status) {
    case 'published':
    case 'duplicate':
    case 'held':
    case 'rolledBack':
      return {
        status: style.accepted,
        jsonBody: {
          jobId: outcome.jobId,
          eventId: outcome.eventId ?? eventIdFor(outcome.jobId),
          status: outcome.status,
        },
      };
    case 'rejected':
      return {
        status: 400,
        jsonBody: withJob({
          code: outcome.error?.code ?? 'Rejected',
          message: outcome.error?.message ?? `The ${style.noun} was rejected.`,
          ...(outcome.error?.path ? { target: outcome.error.path } : {}),
        }),
      };
    default: {
      const error = style.retryError?.(outcome) ?? {
        code: outcome.error?.code ?? 'RetryLater',
        message: outcome.error?.message ?? 'Try again later.',
      };
      return {
        status: 503,
        headers: { 'Retry-After': retryAfter(outcome, leaseSeconds) },
        jsonBody: withJob(error),
      };
    }
  }
}

/**
 * The `Retry-After` (seconds) for an outcome that must be retried: a context another delivery is publishing is worth
 * retrying once its lease can have run out; a transient failure soon.
 */
export function retryAfter(outcome: IngestOutcome, leaseSeconds: number): string {
  return outcome.status === 'busy' ? String(leaseSeconds) : '5';
}
