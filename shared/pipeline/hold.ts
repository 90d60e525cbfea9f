/**
 * Holding synchronous contexts (issue 16, "phantom events"). Dataverse posts a synchronous step's context while the
 * operation's transaction is still open, and "if the operation then fails, the data operation will rollback but the
 * request sent to the Azure service cannot be recalled" (Microsoft Learn, "Work with Dataverse data in your Azure
 * solution"). So the pipeline answers at once, keeps the context, and publishes it only once Dataverse shows the
 * operation committed (`verify.ts`). The durable delay between the two is a queue message that becomes visible later.
 */
import type { NormalizedContext } from '../dataverse/types.js';
import type { JobSource } from './jobs.js';

/**
 * The verification queue of a storage prefix (`BRIDGE_STORAGE_PREFIX`): `<prefix>-verify`; the Queue trigger moves
 * messages it gave up on to `<prefix>-verify-poison`. A light module, so `functions/verifyHeld.ts` can name the queue at
 * registration without loading the storage adapters.
 */
export function verifyQueueName(prefix: string): string {
  return `${prefix}-verify`;
}

/** One check of a held job, as the verification queue carries it. */
export interface HoldCheck {
  jobId: string;
  /** How many checks ran before this one (0 for the first): the back-off between checks grows with it. */
  check: number;
}

/** The port of the verification queue: a message that becomes visible `delaySeconds` after it was sent. */
export interface HoldQueue {
  /** Sends `check`, invisible for `delaySeconds`; it never expires (a held job must not be forgotten). */
  enqueue(check: HoldCheck, delaySeconds: number): Promise<void>;
}

/** What the pipeline needs to hold synchronous contexts; absent when the hold is off. */
export interface HoldDeps {
  queue: HoldQueue;
  /** When the first check runs (`BRIDGE_VERIFY_DELAY_SECONDS`). */
  delaySeconds: number;
}

const NIL_GUID = '00000000-0000-0000-0000-000000000000';
/** Contexts from Dataverse itself; `api` (PublishEvent) and `reconciliation` describe what already happened. */
const FROM_DATAVERSE: ReadonlySet<JobSource> = new Set(['queue', 'topic', 'webhook']);

/**
 * Whether a context is held until its operation is verified: a synchronous step's (`mode` 0) context posted by
 * Dataverse, about a row. A context with no row (an unbound custom API or action: table `none`, the nil id) has
 * nothing Dataverse could show afterwards, so it is published at once, as before.
 *
 * @example
 * needsHold(context, 'webhook'); // true for a synchronous post-operation Create of a contact
 */
export function needsHold(context: NormalizedContext, source: JobSource): boolean {
  return context.mode === 0 && FROM_DATAVERSE.has(source) && hasRow(context);
}

/** Whether the context names a row Dataverse can be asked about. */
export function hasRow(context: NormalizedContext): boolean {
  const id = context.primaryEntityId.toLowerCase();
  return context.primaryEntityName !== 'none' && context.primaryEntityName !== '' && id !== '' && id !== NIL_GUID;
}

/** The queue message text of a check (JSON; the adapter encodes it as the trigger expects). */
export function holdCheckText(check: HoldCheck): string {
  return JSON.stringify({ jobId: check.jobId, check: check.check });
}

/**
 * Reads a check from a queue trigger's input: the JSON text, or the object the host made of it. `undefined` when it is
 * not one (nothing of ours sends such a message).
 */
export function readHoldCheck(input: unknown): HoldCheck | undefined {
  let value = input;
  if (Buffer.isBuffer(value)) value = value.toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { jobId, check } = value as { jobId?: unknown; check?: unknown };
  if (typeof jobId !== 'string' || !/^[0-9a-f]{32}$/.test(jobId)) return undefined;
  const count = typeof check === 'number' && Number.isInteger(check) && check >= 0 ? check : 0;
  return { jobId, check: count };
}
