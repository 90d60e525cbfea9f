import { setTimeout as sleep } from 'node:timers/promises';
import { RetryLaterError } from './errors.js';
import { type InboundMessage, serviceBusMessages } from './inbound.js';
import { type IngestDeps, type IngestOutcome, type IngestResult, ingest } from './ingest.js';
import type { JobSource } from './jobs.js';

/**
 * How long a batch may wait for other deliveries' leases to end. The Service Bus trigger renews the batch's locks
 * for `maxAutoLockRenewalDuration` (10 minutes in host.json); staying under it keeps every message of the batch ours.
 */
export const MAX_LEASE_WAIT_SECONDS = 540;

/** Polling for a lease held by a live delivery: its job usually settles within a second or two. */
const FIRST_POLL_MS = 1_000;
const MAX_POLL_MS = 10_000;
/** Looked at just after the lease ends, not at the instant it does, so the clock of the other writer has passed it. */
const AFTER_LEASE_MS = 250;

/**
 * Handles one Service Bus trigger invocation (queue or topic subscription) and throws {@link RetryLaterError} when
 * the batch must be redelivered. Bad messages do not fail the batch: they are recorded as rejected and completed.
 *
 * A context another delivery holds a lease on is waited for rather than thrown back at once. A message comes back
 * after a crash (its lock ran out) while the dead invocation's lease still stands; Service Bus redelivers an abandoned
 * message at once, so throwing would spend every delivery count in seconds and dead-letter a context no one published.
 * Waiting ends when the other delivery settles the job (then it is a duplicate) or its lease ends (then this delivery
 * takes the job over and publishes it), up to `leaseSeconds` plus a margin, at most {@link MAX_LEASE_WAIT_SECONDS}.
 */
export async function handleServiceBusBatch(
  bodies: unknown,
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
  source: Extract<JobSource, 'queue' | 'topic'>,
  deps: IngestDeps,
): Promise<IngestResult> {
  const messages = serviceBusMessages(bodies, triggerMetadata, source);
  const result = await waitOutLeases(messages, await ingest(messages, deps), deps);
  deps.log?.log(summarize(result));
  if (result.retry)
    throw new RetryLaterError(result.outcomes.filter((o) => o.status === 'failed' || o.status === 'busy'));
  return result;
}

/** Re-runs the messages that were busy under a lease until they settle, the leases end, or the wait is too long. */
async function waitOutLeases(
  messages: readonly InboundMessage[],
  first: IngestResult,
  deps: IngestDeps,
): Promise<IngestResult> {
  const outcomes = [...first.outcomes];
  const deadline = Date.now() + Math.min(deps.leaseSeconds + 10, MAX_LEASE_WAIT_SECONDS) * 1000;
  let poll = FIRST_POLL_MS;
  for (;;) {
    const waiting = outcomes.flatMap((outcome, index) => (leasedElsewhere(outcome) ? [index] : []));
    if (waiting.length === 0) break;
    const leaseEnd = Math.min(...waiting.map((index) => Date.parse(outcomes[index]?.leaseUntil as string)));
    const wakeAt = Math.min(Date.now() + poll, leaseEnd + AFTER_LEASE_MS);
    if (wakeAt > deadline) break;
    if (poll === FIRST_POLL_MS) {
      deps.log?.log(`${waiting.length} message(s) wait for another delivery's lease to end or its job to settle.`);
    }
    await sleep(Math.max(0, wakeAt - Date.now()));
    poll = Math.min(poll * 2, MAX_POLL_MS);
    const again = await ingest(
      waiting.map((index) => messages[index] as InboundMessage),
      deps,
    );
    waiting.forEach((index, i) => {
      outcomes[index] = again.outcomes[i] as IngestOutcome;
    });
  }
  return { outcomes, retry: outcomes.some((o) => o.status === 'failed' || o.status === 'busy') };
}

function leasedElsewhere(outcome: IngestOutcome): boolean {
  return outcome.status === 'busy' && outcome.leaseUntil !== undefined && !Number.isNaN(Date.parse(outcome.leaseUntil));
}

/** `10 message(s): 8 published, 1 duplicate, 1 rejected`. */
export function summarize(result: IngestResult): string {
  const counts = new Map<string, number>();
  for (const outcome of result.outcomes) counts.set(outcome.status, (counts.get(outcome.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`);
  return `${result.outcomes.length} message(s): ${parts.join(', ')}`;
}
