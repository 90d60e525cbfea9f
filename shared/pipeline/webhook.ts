import { type HeaderSource, headerValue } from '../dataverse/transport.js';
import { type IngestDeps, ingest } from './ingest.js';
import { type OutcomeResponse, outcomeResponse } from './outcomeResponse.js';

/** The parts of an HTTP request the webhook needs. */
export interface WebhookRequest {
  body: Uint8Array;
  headers: HeaderSource;
}

/** A plain HTTP response: the function file turns it into the Functions response type. */
export type WebhookResponse = OutcomeResponse;

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
  return outcomeResponse(outcome, deps.leaseSeconds, { accepted: 200, noun: 'message', jobIdInErrors: true });
}

function correlation(headers: HeaderSource): { messageId?: string } {
  const id = headerValue(headers, 'x-ms-correlation-request-id') ?? headerValue(headers, 'x-request-id');
  return id ? { messageId: id } : {};
}
