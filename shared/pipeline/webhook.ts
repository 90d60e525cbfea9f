import { type HeaderSource, headerValue } from '../dataverse/transport.js';
import { type IngestDeps, type IngestOutcome, ingest } from './ingest.js';

/** The parts of an HTTP request the webhook needs. */
export interface WebhookRequest {
  body: Uint8Array;
  headers: HeaderSource;
}

/** A plain HTTP response: the function file turns it into the Functions response type. */
export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  jsonBody: unknown;
}

/**
 * Handles a Dataverse webhook post. It answers 2xx only once the context is durably handled (published, or already
 * published before); bad input gets 400 with the reason (Dataverse shows it in the System Jobs view) and is recorded;
 * anything transient gets 503 with Retry-After, so Dataverse retries an asynchronous step.
 */
export async function handleWebhook(request: WebhookRequest, deps: IngestDeps): Promise<WebhookResponse> {
  const [outcome] = (
    await ingest(
      [
        {
          body: request.body,
          source: 'webhook',
          transport: { contentType: headerValue(request.headers, 'content-type'), headers: request.headers },
          ...correlation(request.headers),
        },
      ],
      deps,
    )
  ).outcomes;
  if (!outcome) throw new Error('ingest returned no outcome for the webhook message');
  switch (outcome.status) {
    case 'published':
    case 'duplicate':
      return { status: 200, jsonBody: { jobId: outcome.jobId, eventId: outcome.eventId, status: outcome.status } };
    case 'rejected':
      return {
        status: 400,
        jsonBody: {
          error: {
            code: outcome.error?.code ?? 'Rejected',
            message: outcome.error?.message ?? 'The message was rejected.',
            ...(outcome.error?.path ? { target: outcome.error.path } : {}),
          },
          jobId: outcome.jobId,
        },
      };
    default:
      return {
        status: 503,
        headers: { 'Retry-After': retryAfter(outcome, deps.leaseSeconds) },
        jsonBody: {
          error: { code: outcome.error?.code ?? 'RetryLater', message: outcome.error?.message ?? 'Try again later.' },
          jobId: outcome.jobId,
        },
      };
  }
}

/**
 * The `Retry-After` (seconds) for an outcome that must be retried: a context another delivery is publishing is worth
 * retrying once its lease can have run out; a transient failure soon.
 */
export function retryAfter(outcome: IngestOutcome, leaseSeconds: number): string {
  return outcome.status === 'busy' ? String(leaseSeconds) : '5';
}

function correlation(headers: HeaderSource): { messageId?: string } {
  const id = headerValue(headers, 'x-ms-correlation-request-id') ?? headerValue(headers, 'x-request-id');
  return id ? { messageId: id } : {};
}
