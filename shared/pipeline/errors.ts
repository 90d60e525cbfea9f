import { TransientError } from '../errors.js';
import type { IngestOutcome } from './ingest.js';

/**
 * Thrown by a Service Bus handler when some message of the batch is not settled (a transient failure, or another
 * delivery of it in progress): failing the invocation makes Service Bus redeliver, and deduplication skips what
 * already went out.
 */
export class RetryLaterError extends TransientError {
  override readonly name = 'RetryLaterError';
  readonly code = 'RetryLater';

  constructor(readonly unsettled: readonly IngestOutcome[]) {
    const first = unsettled[0];
    super(
      `${unsettled.length} message(s) will be retried${first?.error ? `; first: job ${first.jobId}: ${first.error.message}` : ''}`,
    );
  }
}
