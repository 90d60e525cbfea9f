/**
 * Webhook-trigger subscriptions: Power Automate (or any HTTPS endpoint) subscribes through the connector's
 * `POST /api/subscriptions`; `deliverSubscriptions` (an Event Grid subscriber) posts each matching normalized context
 * to the callback URL, signed with the subscription's secret.
 */

export type SubscriptionHealth = 'healthy' | 'unhealthy';

/** The last failed delivery, as recorded on a subscription. Never contains secrets or the callback URL's query. */
export interface DeliveryError {
  /**
   * `HttpStatus` (the callback answered non-2xx), `Timeout`, `NetworkError`, `RefusedAddress` (its host resolved to a
   * non-public address) or `InvalidCallbackUrl` (the URL no longer passes the rules).
   */
  code: string;
  message: string;
  /** The HTTP status the callback answered, when it answered. */
  status?: number;
  /** ISO 8601 UTC. */
  at: string;
  eventId: string;
}

/**
 * Which events a subscription receives. Each list empty means "any". Tables and columns are logical names
 * (compared case-insensitively); messages are Dataverse message names (`Create`, `Update`, `new_MyApi`…, compared
 * case-insensitively). `columns` applies to Update only, like a Dataverse step's filtering attributes: an Update
 * matches when one of them is in `changedAttributes`; other messages are not filtered by columns.
 */
export interface SubscriptionFilters {
  tables: string[];
  messages: string[];
  columns: string[];
  /**
   * With `columns`: an Update matches only when one of them really changed value, not merely was sent (a column
   * whose previous value is unknown counts as changed; see `matches`). Absent (subscriptions stored before the
   * option existed) is `false`.
   */
  onlyWhenValuesChange?: boolean;
}

export interface Subscription extends SubscriptionFilters {
  /** 32 lower-case hex characters. */
  id: string;
  /** Where matching contexts are posted: https (http to localhost only in local mode). */
  callbackUrl: string;
  /** The HMAC-SHA256 key for the signature header. Never returned by the API. */
  secret: string;
  /**
   * SHA-256 (hex) of the token the `Location` URL carries, so `DELETE /api/subscriptions/{id}?token=` works without
   * an API key (Power Automate sends none). The token itself is never stored.
   */
  deleteTokenHash: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  health: SubscriptionHealth;
  /** Failed deliveries since the last successful one. */
  consecutiveFailures: number;
  lastError?: DeliveryError;
  /** ISO 8601 UTC. */
  lastDeliveredAt?: string;
  /** Opaque concurrency token. */
  etag: string;
}

/** The fields a new subscription starts with. */
export type NewSubscription = Omit<
  Subscription,
  'etag' | 'health' | 'consecutiveFailures' | 'lastError' | 'lastDeliveredAt'
>;

export interface SubscriptionStore {
  create(subscription: NewSubscription): Promise<Subscription>;
  get(id: string): Promise<Subscription | undefined>;
  /** Every subscription (there are few: one per flow using the trigger). */
  list(): Promise<Subscription[]>;
  /** `true` when it existed. */
  delete(id: string): Promise<boolean>;
  /**
   * Counts a failed delivery; marks the subscription unhealthy once `unhealthyAfter` deliveries in a row failed.
   * Safe under concurrent invocations (optimistic concurrency, retried). No-op when the subscription is gone.
   */
  recordFailure(id: string, error: DeliveryError, unhealthyAfter: number): Promise<void>;
  /** Records a successful delivery: healthy again, failure count reset. Writes only when something changes. */
  recordSuccess(id: string, at: string): Promise<void>;
}

/** Which subscriptions have been served each event, so Event Grid's retries do not call them again. */
export interface DeliveryLog {
  /** The ids of the subscriptions already served this event. */
  served(eventId: string): Promise<Set<string>>;
  markServed(eventId: string, subscriptionId: string, deliveryId: string): Promise<void>;
}
