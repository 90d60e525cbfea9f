import { RetryLaterError } from './errors.js';
import { serviceBusMessages } from './inbound.js';
import { type IngestDeps, type IngestResult, ingest } from './ingest.js';
import type { JobSource } from './jobs.js';

/**
 * Handles one Service Bus trigger invocation (queue or topic subscription) and throws {@link RetryLaterError} when
 * the batch must be redelivered. Bad messages do not fail the batch: they are recorded as rejected and completed.
 */
export async function handleServiceBusBatch(
  bodies: unknown,
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
  source: Extract<JobSource, 'queue' | 'topic'>,
  deps: IngestDeps,
): Promise<IngestResult> {
  const messages = serviceBusMessages(bodies, triggerMetadata, source);
  const result = await ingest(messages, deps);
  deps.log?.log(summarize(result));
  if (result.retry)
    throw new RetryLaterError(result.outcomes.filter((o) => o.status === 'failed' || o.status === 'busy'));
  return result;
}

/** `10 message(s): 8 published, 1 duplicate, 1 rejected`. */
export function summarize(result: IngestResult): string {
  const counts = new Map<string, number>();
  for (const outcome of result.outcomes) counts.set(outcome.status, (counts.get(outcome.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`);
  return `${result.outcomes.length} message(s): ${parts.join(', ')}`;
}
