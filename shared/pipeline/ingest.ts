import pLimit from 'p-limit';
import { ContextFormatError } from '../dataverse/errors.js';
import { readContext } from '../dataverse/readContext.js';
import {
  DATAVERSE_HEADERS,
  DATAVERSE_PROPERTY_NAMES,
  headerValue,
  type TransportInfo,
} from '../dataverse/transport.js';
import type { NormalizedContext } from '../dataverse/types.js';
import { EventTooLargeError } from '../events/errors.js';
import { eventIdFor } from '../events/eventId.js';
import { packEvents } from '../events/pack.js';
import { toCloudEvent } from '../events/toCloudEvent.js';
import { type BridgeEvent, EVENT_GRID_LIMITS, type EventPublisher, type PublishLimits } from '../events/types.js';
import type { Logger } from '../logger.js';
import { type EnrichDeps, enrichEvent } from './enrich.js';
import { type HoldDeps, needsHold } from './hold.js';
import { bodyBytes, type InboundMessage } from './inbound.js';
import { jobKeyForBytes, jobKeyForContext } from './jobKey.js';
import type { JobError, JobRecord, JobStore, NewJob, RawRef, RawStore } from './jobs.js';

/** What the pipeline needs: the job and raw stores, a publisher, and its tuning. */
export interface IngestDeps {
  jobs: JobStore;
  raw: RawStore;
  publisher: EventPublisher;
  /** How long a claimed job is ours before another delivery may take it over. */
  leaseSeconds: number;
  limits?: PublishLimits;
  now?: () => Date;
  log?: Logger;
  /**
   * Replaying (`POST /api/jobs/{id}/replay`): a job already `rejected` is taken over and tried again instead of being
   * settled as rejected, so a context rejected before a fix can be published after it.
   */
  retryRejected?: boolean;
  /** With `DATAVERSE_URL` set: what each event's `$bridge` section is read from (`enrich.ts`); unset, none is added. */
  enrich?: EnrichDeps;
  /**
   * Holding synchronous contexts until Dataverse shows their operation committed (see `hold.ts`); absent when the
   * hold is off (no `DATAVERSE_URL`, or `BRIDGE_VERIFY_SYNC=false`): they are published at once.
   */
  hold?: HoldDeps;
  /**
   * The hold is settled by the caller: `verifyHeld` found the operation committed, or a replay of a rolled-back job
   * overrides the check. A `held` or `rolledBack` job is then taken over and published like a `failed` one.
   */
  releaseHeld?: boolean;
}

/**
 * What became of one message:
 * - `published`: its event went out in this invocation;
 * - `duplicate`: an earlier delivery already published it;
 * - `rejected`: it cannot be read or published (bad input), and is recorded with its raw bytes;
 * - `failed`: a transient error; the message must be retried;
 * - `busy`: another delivery of the same context is being processed right now; retry this one later;
 * - `held`: a synchronous context, kept and waiting for Dataverse to show its operation committed (settled: the
 *   message is completed; `verifyHeld` publishes it later, or records it `rolledBack`);
 * - `rolledBack`: an earlier check found the operation never committed; nothing was or will be published.
 */
export type OutcomeStatus = 'published' | 'duplicate' | 'rejected' | 'failed' | 'busy' | 'held' | 'rolledBack';

export interface IngestOutcome {
  jobId: string;
  status: OutcomeStatus;
  eventId?: string;
  error?: JobError;
  /** `busy` only: when the other delivery's lease on the job ends (ISO 8601), if one holds it. */
  leaseUntil?: string;
}

export interface IngestResult {
  /** One per input message, in input order. */
  outcomes: IngestOutcome[];
  /** Some message is not settled: fail the invocation so the trigger redelivers (deduplication makes that safe). */
  retry: boolean;
}

interface Prepared {
  message: InboundMessage;
  bytes: Buffer;
  jobId: string;
  context?: NormalizedContext;
  rejection?: ContextFormatError;
}

interface Owned {
  job: JobRecord;
  prepared: Prepared;
  event: BridgeEvent;
}

const STORAGE_CONCURRENCY = 16;
const PUBLISH_CONCURRENCY = 4;

/**
 * Runs a batch of Dataverse messages through the pipeline: read and normalize → dedupe and claim a job → pack into
 * as few Event Grid requests as the limits allow → publish → mark published. Bad input is recorded as `rejected`
 * with its raw bytes; transient failures leave the job `failed` (raw bytes kept) and ask for a retry.
 *
 * Never throws for a single message's problem: each gets its outcome, and `retry` says whether the invocation must
 * fail so the trigger redelivers.
 *
 * @example
 * const result = await ingest(serviceBusMessages(bodies, context.triggerMetadata, 'queue'), deps);
 * if (result.retry) throw new RetryLaterError(result);
 */
export async function ingest(messages: readonly InboundMessage[], deps: IngestDeps): Promise<IngestResult> {
  const run = new IngestRun(deps);
  return run.ingest(messages);
}

class IngestRun {
  private readonly now: Date;
  private readonly storage = pLimit(STORAGE_CONCURRENCY);
  private readonly outcomes = new Map<string, IngestOutcome>();
  private readonly limits: PublishLimits;

  constructor(private readonly deps: IngestDeps) {
    this.now = deps.now?.() ?? new Date();
    this.limits = deps.limits ?? EVENT_GRID_LIMITS;
  }

  async ingest(messages: readonly InboundMessage[]): Promise<IngestResult> {
    const prepared = messages.map((message) => this.prepare(message));
    // The same context twice in one batch is handled once; the other copies share its outcome.
    const unique = new Map<string, Prepared>();
    for (const item of prepared) if (!unique.has(item.jobId)) unique.set(item.jobId, item);

    const owned: Owned[] = [];
    await Promise.all(
      [...unique.values()].map((item) =>
        this.storage(() =>
          this.guard(item.jobId, async () => {
            if (item.rejection) return this.reject(item, item.rejection);
            const claimed = await this.claim(item);
            if (claimed) owned.push(claimed);
          }),
        ),
      ),
    );
    // Synchronous contexts wait for their check; enrichment reaches them when they are released.
    const held = owned.filter((item) => this.mustHold(item));
    await Promise.all(
      held.map((item) =>
        this.storage(() => this.guard(item.job.id, () => this.hold(item, this.deps.hold as HoldDeps))),
      ),
    );
    await this.publish(await this.enrich(owned.filter((item) => !held.includes(item))));

    const seen = new Set<string>();
    const outcomes = prepared.map((item) => {
      const outcome = this.outcomes.get(item.jobId) ?? failedOutcome(item.jobId, 'NotProcessed', 'not processed');
      if (seen.has(item.jobId) && outcome.status === 'published') return { ...outcome, status: 'duplicate' as const };
      seen.add(item.jobId);
      return outcome;
    });
    return { outcomes, retry: outcomes.some((o) => o.status === 'failed' || o.status === 'busy') };
  }

  private prepare(message: InboundMessage): Prepared {
    let bytes: Buffer;
    try {
      bytes = bodyBytes(message.body);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      return unserializable(message, error);
    }
    try {
      const context = readContext(message.body, message.transport);
      return { message, bytes, jobId: jobKeyForContext(context, bytes), context };
    } catch (error) {
      if (!(error instanceof ContextFormatError)) throw error;
      return { message, bytes, jobId: jobKeyForBytes(bytes), rejection: error };
    }
  }

  /** Keeps a message's exact bytes under its job id, for replay. */
  private keepRaw(item: Prepared): Promise<RawRef> {
    return this.deps.raw.put(item.jobId, item.bytes, item.message.transport.contentType ?? undefined);
  }

  /** Runs one job's step; a thrown error (storage down, a bug) becomes a `failed` outcome, not a lost message. */
  private async guard(jobId: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: unknown }).code;
      this.deps.log?.error(`Job ${jobId} failed and will be retried: ${message}`);
      this.outcomes.set(jobId, failedOutcome(jobId, typeof code === 'string' ? code : 'Unexpected', message));
    }
  }

  private newJob(item: Prepared, fields: Partial<NewJob>): NewJob {
    const { message, context } = item;
    const at = this.now.toISOString();
    return {
      id: item.jobId,
      status: 'received',
      attempts: 1,
      receivedAt: at,
      updatedAt: at,
      source: message.source,
      ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
      ...(message.deliveryCount === undefined ? {} : { deliveryCount: message.deliveryCount }),
      ...(context
        ? {
            table: context.primaryEntityName,
            message: context.messageName,
            rowId: context.primaryEntityId,
            organizationId: context.organizationId,
            eventId: eventIdFor(item.jobId),
            ...(context.operationId === null ? {} : { operationId: context.operationId }),
          }
        : {}),
      transport: replayableTransport(message.transport),
      ...fields,
    };
  }

  private leaseUntil(): string {
    return new Date(this.now.getTime() + this.deps.leaseSeconds * 1000).toISOString();
  }

  /** Records a message that cannot be read: raw bytes first, so a job never points at bytes that are not there. */
  private async reject(item: Prepared, error: ContextFormatError): Promise<void> {
    const jobError = toJobError(error);
    const raw = await this.keepRaw(item);
    const draft = this.newJob(item, { status: 'rejected', error: jobError, raw });
    let { created, job } = await this.deps.jobs.create(draft);
    if (!created && job.status !== 'rejected') {
      // These exact bytes were read as a context before (a context without an OperationId is keyed by its bytes) and
      // come back under a transport that makes them unreadable, e.g. another content type. The job's state is the
      // truth, not this copy's failure to read them: published is a duplicate, and one that is still being (or will
      // be again) published by a readable copy is busy.
      this.outcomes.set(item.jobId, job.status === 'published' ? duplicateOutcome(job) : busyOutcome(job.id));
      return;
    }
    if (!created && this.deps.retryRejected) {
      // A replay that is still rejected: record the attempt and today's reason (the reader may have changed).
      job =
        (await this.deps.jobs.update(job, {
          status: 'rejected',
          attempts: job.attempts + 1,
          updatedAt: draft.updatedAt,
          error: jobError,
          raw,
        })) ?? job;
    }
    this.outcomes.set(item.jobId, { jobId: item.jobId, status: 'rejected', error: job.error ?? jobError });
    const id = item.message.messageId === undefined ? '' : ` ${item.message.messageId}`;
    this.deps.log?.warn(`Rejected message${id} as job ${item.jobId}: ${error.message}`);
  }

  /**
   * Takes ownership of a context's job, or settles it as a duplicate. Ownership is the create-if-absent of the job
   * record, or — for a job left `failed`, or `received` by a delivery whose lease ran out — an ETag-conditioned
   * update, so two concurrent deliveries never both publish.
   */
  private async claim(item: Prepared): Promise<Owned | undefined> {
    const context = item.context as NormalizedContext;
    const event = toCloudEvent(context, eventIdFor(item.jobId), this.now);
    // Reconciliation's events say so in an attribute Event Grid can filter on (replays keep the job's source).
    if (item.message.source === 'reconciliation') event.bridgeorigin = 'reconciliation';
    const draft = this.newJob(item, { leaseUntil: this.leaseUntil() });
    let { created, job } = await this.deps.jobs.create(draft);
    for (let attempt = 0; ; attempt++) {
      if (created) return { job, prepared: item, event };
      if (job.status === 'published') {
        this.outcomes.set(job.id, duplicateOutcome(job));
        return undefined;
      }
      if (job.status === 'held' && this.deps.hold && !this.deps.releaseHeld) {
        // A redelivery of a held context: its check may never have been sent (the process died after marking it
        // held), so send one more. Checks are idempotent: the job's ETag lets only one of them publish.
        await this.deps.hold.queue.enqueue({ jobId: job.id, check: 0 }, this.deps.hold.delaySeconds);
        this.outcomes.set(job.id, { jobId: job.id, status: 'held', eventId: job.eventId ?? eventIdFor(job.id) });
        return undefined;
      }
      if (job.status === 'rolledBack' && !this.deps.releaseHeld) {
        this.outcomes.set(job.id, { jobId: job.id, status: 'rolledBack', ...(job.error ? { error: job.error } : {}) });
        return undefined;
      }
      if (job.status === 'rejected' && !this.deps.retryRejected) {
        this.outcomes.set(job.id, { jobId: job.id, status: 'rejected', ...(job.error ? { error: job.error } : {}) });
        return undefined;
      }
      const leased =
        job.status === 'received' && job.leaseUntil !== undefined && Date.parse(job.leaseUntil) > this.now.getTime();
      if (leased || attempt >= 3) {
        this.outcomes.set(job.id, busyOutcome(job.id, leased ? job.leaseUntil : undefined));
        return undefined;
      }
      const taken = await this.deps.jobs.update(job, {
        status: 'received',
        attempts: job.attempts + 1,
        leaseUntil: draft.leaseUntil,
        updatedAt: draft.updatedAt,
        messageId: draft.messageId ?? null,
        deliveryCount: draft.deliveryCount ?? null,
        error: null,
      });
      if (taken) return { job: taken, prepared: item, event };
      // Another delivery changed the job between our read and our write: look again.
      const current = await this.deps.jobs.get(job.id);
      if (current) job = current;
      else ({ created, job } = await this.deps.jobs.create(draft));
    }
  }

  /**
   * Adds the bridge's `$bridge` section to each owned event (`enrich.ts`), just before packing. A job whose additions
   * cannot be read now (Dataverse or storage unavailable) fails alone: kept with its raw bytes and retried.
   */
  private async enrich(owned: readonly Owned[]): Promise<Owned[]> {
    const deps = this.deps.enrich;
    if (deps === undefined) return [...owned];
    const enriched = await Promise.all(
      owned.map((item) =>
        this.storage(async () => {
          try {
            return { ...item, event: await enrichEvent(item.event, deps, this.limits) };
          } catch (error) {
            await this.guard(item.job.id, () => this.fail(item, error));
            return undefined;
          }
        }),
      ),
    );
    return enriched.filter((item): item is Owned => item !== undefined);
  }

  /** Whether an owned job waits for verification instead of being published now. */
  private mustHold(item: Owned): boolean {
    return (
      this.deps.hold !== undefined &&
      !this.deps.releaseHeld &&
      item.job.verifiedAt === undefined &&
      needsHold(item.prepared.context as NormalizedContext, item.prepared.message.source)
    );
  }

  /**
   * Holds a synchronous context: raw bytes first, then its check on the queue, then the job `held`. A crash between
   * any two leaves the job `received` (its lease runs out and a redelivery takes it over) or a check for a job whose
   * bytes are kept (the check handles a `received` job whose lease ran out as held), so nothing is lost or stuck.
   */
  private async hold(item: Owned, hold: HoldDeps): Promise<void> {
    try {
      const raw = await this.keepRaw(item.prepared);
      await hold.queue.enqueue({ jobId: item.job.id, check: 0 }, hold.delaySeconds);
      const at = new Date().toISOString();
      const updated = await this.deps.jobs.update(item.job, {
        status: 'held',
        raw,
        leaseUntil: null,
        updatedAt: at,
        error: null,
      });
      if (!updated) this.deps.log?.warn(`Job ${item.job.id} was held, but another delivery had taken it over.`);
    } catch (error) {
      await this.fail(item, error);
      return;
    }
    this.outcomes.set(item.job.id, { jobId: item.job.id, status: 'held', eventId: item.event.id });
  }

  private async publish(owned: readonly Owned[]): Promise<void> {
    if (owned.length === 0) return;
    const byEvent = new Map<BridgeEvent<unknown>, Owned>(owned.map((item) => [item.event, item]));
    const { batches, tooLarge } = packEvents(
      owned.map((item) => item.event),
      this.limits,
    );
    await Promise.all(
      tooLarge.map(({ event, size }) => {
        const item = byEvent.get(event) as Owned;
        return this.storage(() =>
          this.guard(item.job.id, () =>
            this.rejectOwned(item, new EventTooLargeError(size, this.limits.maxEventBytes)),
          ),
        );
      }),
    );
    const publishing = pLimit(PUBLISH_CONCURRENCY);
    await Promise.all(
      batches.map((batch) =>
        publishing(async () => {
          const items = batch.map((event) => byEvent.get(event) as Owned);
          try {
            await this.deps.publisher.send(batch);
          } catch (error) {
            await Promise.all(
              items.map((item) => this.storage(() => this.guard(item.job.id, () => this.fail(item, error)))),
            );
            return;
          }
          await Promise.all(items.map((item) => this.storage(() => this.markPublished(item))));
        }),
      ),
    );
  }

  /**
   * The event is out, so the outcome is `published` whatever happens to the status write: retrying the message now
   * would publish it twice. If the write fails, the job stays `received` and the log says so.
   */
  private async markPublished(item: Owned): Promise<void> {
    const at = new Date().toISOString();
    this.outcomes.set(item.job.id, { jobId: item.job.id, status: 'published', eventId: item.event.id });
    try {
      const updated = await this.deps.jobs.update(item.job, {
        status: 'published',
        publishedAt: at,
        updatedAt: at,
        leaseUntil: null,
        error: null,
      });
      if (!updated) this.deps.log?.warn(`Job ${item.job.id} was published, but another delivery had taken it over.`);
    } catch (error) {
      this.deps.log?.error(
        `Job ${item.job.id} was published as event ${item.event.id}, but recording that failed: ${(error as Error).message}`,
      );
    }
  }

  /** An owned job whose event can never be published (too large): keep the raw bytes, mark it rejected. */
  private async rejectOwned(item: Owned, error: EventTooLargeError): Promise<void> {
    const raw = await this.keepRaw(item.prepared);
    const jobError = toJobError(error);
    await this.deps.jobs.update(item.job, {
      status: 'rejected',
      error: jobError,
      raw,
      leaseUntil: null,
      updatedAt: new Date().toISOString(),
    });
    this.outcomes.set(item.job.id, { jobId: item.job.id, status: 'rejected', error: jobError });
    this.deps.log?.warn(`Rejected job ${item.job.id}: ${error.message}`);
  }

  /** A transient publish failure: keep the raw bytes for replay, release the lease, ask for a retry. */
  private async fail(item: Owned, error: unknown): Promise<void> {
    const jobError = toJobError(error);
    this.outcomes.set(item.job.id, { jobId: item.job.id, status: 'failed', error: jobError });
    this.deps.log?.warn(`Job ${item.job.id} will be retried: ${jobError.message}`);
    let raw: RawRef | undefined;
    try {
      raw = await this.keepRaw(item.prepared);
    } catch (saveError) {
      // The message itself stays in Service Bus (or with the webhook caller), so releasing the lease matters more.
      this.deps.log?.warn(`Job ${item.job.id}: raw bytes not kept: ${(saveError as Error).message}`);
    }
    await this.deps.jobs.update(item.job, {
      status: 'failed',
      error: jobError,
      ...(raw ? { raw } : {}),
      leaseUntil: null,
      updatedAt: new Date().toISOString(),
    });
  }
}

/** Error messages can quote input; a Table property holds at most 64 KB, so keep what is recorded well below it. */
const MAX_ERROR_MESSAGE = 4_000;

function toJobError(error: unknown): JobError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: typeof code === 'string' ? code : 'Unexpected',
    message: message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message,
    ...(error instanceof ContextFormatError && error.path ? { path: error.path } : {}),
  };
}

/**
 * A body the host had parsed that nests too deeply to serialize again (JSON.stringify overflows the stack): its bytes
 * are gone, so it is rejected with none kept, under a key of its message id, which a redelivery repeats. Throwing
 * instead would fail the whole batch on every delivery until Service Bus dead-letters it.
 */
function unserializable(message: InboundMessage, cause: RangeError): Prepared {
  const rejection = new ContextFormatError('TooDeep', 'The message nests too deeply to serialize or read', { cause });
  const key = Buffer.from(`unserializable\n${message.messageId ?? ''}`, 'utf8');
  return { message, bytes: Buffer.alloc(0), jobId: jobKeyForBytes(key), rejection };
}

function failedOutcome(jobId: string, code: string, message: string): IngestOutcome {
  return { jobId, status: 'failed', error: { code, message } };
}

/** A delivery of a job already published: its event went out before. */
function duplicateOutcome(job: JobRecord): IngestOutcome {
  return { jobId: job.id, status: 'duplicate', eventId: job.eventId ?? eventIdFor(job.id) };
}

function busyOutcome(jobId: string, leaseUntil?: string): IngestOutcome {
  return {
    jobId,
    status: 'busy',
    ...(leaseUntil === undefined ? {} : { leaseUntil }),
    error: {
      code: 'InProgress',
      message: 'Another delivery of this context is being processed; this one will be retried.',
    },
  };
}

/**
 * The transport facts a replay needs, as JSON: the content type and the Dataverse properties and headers. Nothing
 * else is kept, so keys and signatures (query strings, `x-functions-key`) can never end up in a job record.
 */
export function replayableTransport(transport: TransportInfo): string {
  const properties: Record<string, unknown> = {};
  const source = transport.applicationProperties ?? {};
  for (const name of DATAVERSE_PROPERTY_NAMES) {
    if (source[name] !== undefined) properties[name] = source[name];
  }
  const headers: Record<string, string> = {};
  for (const name of Object.values(DATAVERSE_HEADERS)) {
    const value = headerValue(transport.headers, name);
    if (value !== undefined) headers[name] = value;
  }
  return JSON.stringify({
    ...(transport.contentType ? { contentType: transport.contentType } : {}),
    ...(Object.keys(properties).length ? { applicationProperties: properties } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
  });
}
