import type { NormalizedContext } from '../dataverse/types.js';

/**
 * A CloudEvents 1.0 event as Dataverse Bridge publishes it (DESIGN.md, "The event"). Attribute names are the
 * CloudEvents wire names.
 */
export interface BridgeEvent<T = NormalizedContext> {
  specversion: '1.0';
  /** Deterministic from the dedupe key, so consumers can deduplicate too. */
  id: string;
  /** The organization: its URL when known, else `/organizations/{organizationId}`. */
  source: string;
  /** `dataverse.<messagename lowercased>`, e.g. `dataverse.update`. */
  type: string;
  /** `<primaryEntityName>/<primaryEntityId>`, so `subjectBeginsWith: "account/"` selects a table. */
  subject: string;
  /** `operationCreatedOn` (ISO 8601 UTC). */
  time: string;
  datacontenttype: 'application/json';
  data: T;
  /**
   * A CloudEvents extension attribute, set only on events published by reconciliation (`reconciliation`), so
   * subscriptions can filter them (an Event Grid advanced filter on the key `bridgeorigin`).
   */
  bridgeorigin?: 'reconciliation';
}

/** Event Grid's limits for one publish request (custom topics, CloudEvents schema). */
export interface PublishLimits {
  /** Bytes per request body. */
  maxRequestBytes: number;
  /** Bytes per event. */
  maxEventBytes: number;
  maxEventsPerRequest: number;
}

export const EVENT_GRID_LIMITS: PublishLimits = {
  maxRequestBytes: 1_048_576,
  maxEventBytes: 1_048_576,
  maxEventsPerRequest: 5_000,
};

/**
 * Sends one batch of events in one request. Implementations: the Event Grid topic (`EventGridPublisher`) and, in the
 * local host, an in-process dispatcher. Throws a {@link TransientError} when the batch may not have been accepted.
 */
export interface EventPublisher {
  send(events: readonly BridgeEvent<unknown>[]): Promise<void>;
}
