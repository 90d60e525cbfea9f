import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { NormalizedContext } from '../dataverse/types.js';
import { BridgeError, TransientError } from '../errors.js';
import { eventIdFor } from '../events/eventId.js';
import { readReceivedEvent } from '../events/receivedEvent.js';
import type { Logger } from '../logger.js';
import type { CallbackSender } from './callbackSender.js';
import { checkCallbackUrl } from './callbackUrl.js';
import { matches } from './filters.js';
import {
  DELIVERY_ID_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  SUBSCRIPTION_ID_HEADER,
  signBody,
} from './signature.js';
import type { DeliveryError, DeliveryLog, Subscription, SubscriptionStore } from './types.js';

/** What {@link deliverEvent} needs. */
export interface DeliveryDeps {
  subscriptions: SubscriptionStore;
  deliveries: DeliveryLog;
  sender: CallbackSender;
  /** Consecutive failures after which a subscription is marked unhealthy. */
  unhealthyAfter: number;
  /** How long one callback request may take. */
  timeoutMs: number;
  /** Local mode accepts http callbacks to localhost and private addresses. */
  localMode: boolean;
  /** How many callbacks are posted at once. Default 8. */
  concurrency?: number;
  now?: () => Date;
  log?: Logger;
}

/** What became of one event. */
export interface DeliverySummary {
  /** Subscriptions whose filters select the event. */
  matched: number;
  /** Delivered (2xx) in this invocation. */
  delivered: number;
  /** Already served by an earlier delivery of the same event (Event Grid's retries). */
  skipped: number;
  /** Attempted in this invocation without success. */
  failed: number;
}

/**
 * Some healthy subscription's callback failed. The invocation fails so Event Grid redelivers the event; the delivery
 * log makes the retry call only the subscriptions not yet served. Names how many failed, never where.
 */
export class DeliveryFailedError extends TransientError {
  override readonly name = 'DeliveryFailedError';
  readonly code = 'DeliveryFailed';

  /** What failed, without what Event Grid does next: a host standing in for Event Grid retries its own way. */
  readonly reason: string;

  constructor(
    readonly eventId: string,
    readonly failed: number,
    readonly attempted: number,
  ) {
    const reason = `${failed} of ${attempted} subscription callbacks failed for event ${eventId}`;
    super(`${reason}; Event Grid will retry the event and only those callbacks will be called again.`);
    this.reason = reason;
  }
}

/**
 * The delivery id of an event for a subscription: a version 8 UUID from the SHA-256 of both ids, the same on every
 * redelivery, so a receiver can deduplicate on it.
 *
 * @example
 * deliveryIdFor('4b1f0c2e-93aa-8c51-9f3d-2a7e11c0b5d4', '0123456789abcdef0123456789abcdef');
 * // '1c5f4b17-329f-8834-9246-0f3aefa88510'
 */
export function deliveryIdFor(eventId: string, subscriptionId: string): string {
  return eventIdFor(createHash('sha256').update(`delivery1\n${eventId}\n${subscriptionId}`).digest('hex').slice(0, 32));
}

/**
 * Delivers one event from Event Grid to every subscription whose filters select it (`deliverSubscriptions`).
 *
 * - Events that are not ours (type not `dataverse.*`, or `data` without `primaryEntityName`) are logged and ignored.
 * - Each matching subscription not yet served this event (see {@link DeliveryLog}) gets one POST of the normalized
 *   context (`data`, re-serialized once, so every subscription gets the same bytes) with the signature, delivery id,
 *   event id, event type and subscription id headers; at most `concurrency` at once.
 * - A 2xx marks the subscription served for this event, then healthy. Anything else (another status, a timeout, a
 *   network error, a refused address or URL) is recorded with `recordFailure`.
 * - Throws {@link DeliveryFailedError} (transient: Event Grid retries) when a subscription that was **healthy** failed
 *   with an error retrying could fix (a status, a timeout, a network error).
 *
 * Three choices keep one bad subscription from holding every event in Event Grid's retry loop (up to 24 h):
 * - an **unhealthy** subscription is still attempted, once per event: its failure is recorded and also marked in the
 *   delivery log (so retries caused by others do not call it again) and does not fail the invocation; a success
 *   makes it healthy again;
 * - a refused callback (`InvalidCallbackUrl`: the URL no longer passes the rules; `RefusedAddress`: its host resolves
 *   to a non-public address) is recorded as a failure, so it counts towards unhealthy and is visible on the
 *   subscription, but does not fail the invocation: retrying the same URL against the same rules cannot succeed;
 * - storage errors (reading subscriptions, the log, recording a failure) propagate as they are (transient), after
 *   every started callback has finished. Failing to record a success is only logged: the delivery happened.
 *
 * A receiver can still see an event twice (the process may stop between its 2xx and the log write): the delivery id
 * is the same both times.
 */
export async function deliverEvent(event: unknown, deps: DeliveryDeps): Promise<DeliverySummary> {
  const summary: DeliverySummary = { matched: 0, delivered: 0, skipped: 0, failed: 0 };
  const ours = readEvent(event);
  if (typeof ours === 'string') {
    deps.log?.log(`Ignored an event that is not a Dataverse Bridge event: ${ours}.`);
    return summary;
  }
  const { id: eventId, type, context } = ours;
  const matching = (await deps.subscriptions.list()).filter((subscription) => matches(subscription, context));
  summary.matched = matching.length;
  if (matching.length === 0) return summary;
  const served = await deps.deliveries.served(eventId);
  const pending = matching.filter((subscription) => !served.has(subscription.id));
  summary.skipped = matching.length - pending.length;
  if (pending.length === 0) return summary;

  const body = Buffer.from(JSON.stringify(context), 'utf8');
  const now = deps.now ?? (() => new Date());
  const limit = pLimit(deps.concurrency ?? 8);
  const results = await Promise.allSettled(
    pending.map((subscription) => limit(() => deliverOne(subscription, { eventId, type, body }, deps, now))),
  );

  let retryable = 0;
  let storageError: unknown;
  for (const result of results) {
    if (result.status === 'rejected') {
      storageError ??= result.reason;
      continue;
    }
    if (result.value === 'delivered') summary.delivered++;
    else summary.failed++;
    if (result.value === 'failed-retry') retryable++;
  }
  if (storageError !== undefined) throw storageError;
  if (retryable > 0) throw new DeliveryFailedError(eventId, retryable, pending.length);
  return summary;
}

type Outcome = 'delivered' | 'failed-retry' | 'failed-final';

async function deliverOne(
  subscription: Subscription,
  delivery: Delivery,
  deps: DeliveryDeps,
  now: () => Date,
): Promise<Outcome> {
  const { eventId } = delivery;
  const deliveryId = deliveryIdFor(eventId, subscription.id);
  const attempt = await post(subscription, delivery, deliveryId, deps);
  if (attempt === 'ok') {
    await deps.deliveries.markServed(eventId, subscription.id, deliveryId);
    try {
      await deps.subscriptions.recordSuccess(subscription.id, now().toISOString());
    } catch (error) {
      deps.log?.warn(
        `Subscription ${subscription.id}: event ${eventId} was delivered, but its health could not be updated: ` +
          `${(error as Error).message}`,
      );
    }
    return 'delivered';
  }

  const record: DeliveryError = { ...attempt.failure, at: now().toISOString(), eventId };
  const wasHealthy = subscription.health === 'healthy';
  deps.log?.warn(
    `Subscription ${subscription.id}${wasHealthy ? '' : ' (unhealthy)'}: delivery ${deliveryId} of event ${eventId} ` +
      `failed: ${record.message}`,
  );
  await deps.subscriptions.recordFailure(subscription.id, record, deps.unhealthyAfter);
  if (!wasHealthy || !attempt.retryable) {
    // Its one attempt for this event is spent (unhealthy, or a refusal no retry can change): retries of the event
    // caused by other subscriptions skip it, so it is not counted again.
    await deps.deliveries.markServed(eventId, subscription.id, deliveryId);
    return 'failed-final';
  }
  return 'failed-retry';
}

interface Delivery {
  eventId: string;
  type: string;
  body: Buffer;
}

type Failure = Omit<DeliveryError, 'at' | 'eventId'>;

/** One signed POST to the subscription's callback (its URL checked again first): `ok` for a 2xx, else why not. */
async function post(
  subscription: Subscription,
  delivery: Delivery,
  deliveryId: string,
  deps: DeliveryDeps,
): Promise<'ok' | { failure: Failure; retryable: boolean }> {
  try {
    // Again at each delivery: the subscription may predate the rules, or have been created in local mode.
    const url = checkCallbackUrl(subscription.callbackUrl, { localMode: deps.localMode });
    const headers = {
      [SIGNATURE_HEADER]: signBody(subscription.secret, delivery.body),
      [DELIVERY_ID_HEADER]: deliveryId,
      [EVENT_ID_HEADER]: delivery.eventId,
      [EVENT_TYPE_HEADER]: delivery.type,
      [SUBSCRIPTION_ID_HEADER]: subscription.id,
    };
    const { status } = await deps.sender.post(url, delivery.body, headers, deps.timeoutMs);
    if (status >= 200 && status < 300) return 'ok';
    return {
      failure: { code: 'HttpStatus', message: `The callback answered HTTP ${status}.`, status },
      retryable: true,
    };
  } catch (error) {
    if (error instanceof BridgeError) {
      return { failure: { code: error.code, message: error.message }, retryable: error.transient };
    }
    // A bug or an unexpected library error: its message might quote the URL, so only its name is logged.
    deps.log?.error(
      `Subscription ${subscription.id}: unexpected ${(error as Error)?.name ?? 'error'} from the sender.`,
    );
    return {
      failure: { code: 'NetworkError', message: 'The request to the callback failed unexpectedly.' },
      retryable: true,
    };
  }
}

/** The parts of a CloudEvent we use, or why it is not one of ours. */
function readEvent(event: unknown): { id: string; type: string; context: NormalizedContext } | string {
  const received = readReceivedEvent(event);
  if ('notOurs' in received) return received.notOurs;
  if (typeof received.data.primaryEntityName !== 'string') return 'its data is not a normalized context';
  return { id: received.id, type: received.type, context: received.data as unknown as NormalizedContext };
}
