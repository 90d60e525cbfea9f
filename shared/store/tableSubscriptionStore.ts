import type { TableClient } from '@azure/data-tables';
import type {
  DeliveryError,
  NewSubscription,
  Subscription,
  SubscriptionHealth,
  SubscriptionStore,
} from '../subscriptions/types.js';
import { requireEtag, StorageUnavailableError, statusOf, toStorageError } from './errors.js';

/** Every subscription lives in this one partition: there are few, and `list` is then one partition query. */
const PARTITION = 'subscription';
/** Attempts of a read-modify-write before giving up under contention (each loser waits a little longer). */
const MAX_ATTEMPTS = 25;
/** `recordSuccess` refreshes `lastDeliveredAt` of a healthy subscription at most this often. */
const SUCCESS_WRITE_INTERVAL_MS = 60_000;

/**
 * {@link SubscriptionStore} over Azure Table Storage: partition key `subscription`, row key = subscription id. The
 * filter lists and the last error are stored as JSON strings; counts as numbers; times as ISO strings.
 *
 * `recordFailure` and `recordSuccess` are read-modify-writes conditioned on the ETag and retried on 412 (with a short,
 * growing, jittered wait), so concurrent deliveries (several events, several instances) count every failure.
 * `recordSuccess` writes only when it changes something that matters: the subscription was unhealthy or had failures
 * to reset, or its `lastDeliveredAt` is missing or more than a minute old. A busy, healthy subscription thus costs one
 * read per delivery, and one write a minute, rather than a write per event.
 *
 * @example
 * const store = new TableSubscriptionStore(storage.table(storage.names.subscriptions));
 * await store.recordFailure(id, error, 5);
 */
export class TableSubscriptionStore implements SubscriptionStore {
  private readonly client: () => Promise<TableClient>;

  constructor(client: TableClient | (() => Promise<TableClient>)) {
    this.client = typeof client === 'function' ? client : async () => client;
  }

  async create(subscription: NewSubscription): Promise<Subscription> {
    const client = await this.client();
    const record: Subscription = { ...subscription, health: 'healthy', consecutiveFailures: 0, etag: '' };
    const entity = toEntity(record);
    try {
      const response = await client.createEntity(entity);
      return { ...record, etag: requireEtag(response.etag) };
    } catch (error) {
      // Ids are 128 random bits, so a 409 means the caller reused an id: a bug, not a condition to handle.
      throw toStorageError(error, 'create subscription', `table ${client.tableName}`);
    }
  }

  async get(id: string): Promise<Subscription | undefined> {
    const client = await this.client();
    try {
      const entity = await client.getEntity<Record<string, unknown>>(PARTITION, id);
      return fromEntity(entity, entity.etag);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toStorageError(error, 'read subscription', `table ${client.tableName}`);
    }
  }

  async list(): Promise<Subscription[]> {
    const client = await this.client();
    const subscriptions: Subscription[] = [];
    try {
      const entities = client.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
      });
      for await (const entity of entities) subscriptions.push(fromEntity(entity, entity.etag));
    } catch (error) {
      throw toStorageError(error, 'list subscriptions', `table ${client.tableName}`);
    }
    return subscriptions;
  }

  async delete(id: string): Promise<boolean> {
    const client = await this.client();
    try {
      await client.deleteEntity(PARTITION, id);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw toStorageError(error, 'delete subscription', `table ${client.tableName}`);
    }
  }

  async recordFailure(id: string, error: DeliveryError, unhealthyAfter: number): Promise<void> {
    await this.update(id, 'record delivery failure', (current) => {
      const consecutiveFailures = current.consecutiveFailures + 1;
      const health: SubscriptionHealth =
        current.health === 'unhealthy' || consecutiveFailures >= unhealthyAfter ? 'unhealthy' : 'healthy';
      return { consecutiveFailures, health, lastError: JSON.stringify(error) };
    });
  }

  async recordSuccess(id: string, at: string): Promise<void> {
    await this.update(id, 'record delivery success', (current) => {
      const last = current.lastDeliveredAt === undefined ? undefined : Date.parse(current.lastDeliveredAt);
      const stale = last === undefined || Date.parse(at) - last >= SUCCESS_WRITE_INTERVAL_MS;
      if (current.health === 'healthy' && current.consecutiveFailures === 0 && !stale) return undefined;
      // Never move lastDeliveredAt backwards (a slower delivery of an older event may finish last).
      const lastDeliveredAt = last !== undefined && last > Date.parse(at) ? (current.lastDeliveredAt ?? at) : at;
      return { consecutiveFailures: 0, health: 'healthy', lastDeliveredAt };
    });
  }

  /**
   * Reads the subscription, applies `change` (which returns the properties to merge, or `undefined` for "nothing to
   * write") and writes it back if nobody else did meanwhile; on 412 starts over. A subscription that is gone is left
   * gone.
   */
  private async update(
    id: string,
    operation: string,
    change: (current: Subscription) => Record<string, string | number> | undefined,
  ): Promise<void> {
    const client = await this.client();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const current = await this.get(id);
      if (current === undefined) return;
      const properties = change(current);
      if (properties === undefined) return;
      try {
        await client.updateEntity({ partitionKey: PARTITION, rowKey: id, ...properties }, 'Merge', {
          etag: current.etag,
        });
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return;
        if (status !== 412) throw toStorageError(error, operation, `table ${client.tableName}`);
      }
      await sleep(Math.min(5 * attempt, 50) + Math.random() * 10 * attempt);
    }
    throw new StorageUnavailableError(
      operation,
      `table ${client.tableName}`,
      new Error(`subscription ${id} kept changing under ${MAX_ATTEMPTS} conditional updates`),
    );
  }
}

type SubscriptionEntity = { partitionKey: string; rowKey: string } & Record<string, string | number | boolean>;

function toEntity(subscription: Subscription): SubscriptionEntity {
  return {
    partitionKey: PARTITION,
    rowKey: subscription.id,
    callbackUrl: subscription.callbackUrl,
    secret: subscription.secret,
    deleteTokenHash: subscription.deleteTokenHash,
    createdAt: new Date(subscription.createdAt).toISOString(),
    tables: JSON.stringify(subscription.tables),
    messages: JSON.stringify(subscription.messages),
    columns: JSON.stringify(subscription.columns),
    // Written only when set, so entities of subscriptions without the option look as they always did.
    ...(subscription.onlyWhenValuesChange ? { onlyWhenValuesChange: true } : {}),
    health: subscription.health,
    consecutiveFailures: subscription.consecutiveFailures,
    ...(subscription.lastError ? { lastError: JSON.stringify(subscription.lastError) } : {}),
    ...(subscription.lastDeliveredAt ? { lastDeliveredAt: subscription.lastDeliveredAt } : {}),
  };
}

function fromEntity(entity: Record<string, unknown>, etag: string | undefined): Subscription {
  const text = (field: string) => (typeof entity[field] === 'string' ? (entity[field] as string) : undefined);
  const list = (field: string): string[] => {
    const parsed = parseJson(text(field));
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  };
  const failures = entity.consecutiveFailures;
  const lastError = parseJson(text('lastError')) as DeliveryError | undefined;
  const lastDeliveredAt = text('lastDeliveredAt');
  return {
    id: String(entity.rowKey),
    callbackUrl: text('callbackUrl') ?? '',
    secret: text('secret') ?? '',
    deleteTokenHash: text('deleteTokenHash') ?? '',
    createdAt: text('createdAt') ?? '',
    tables: list('tables'),
    messages: list('messages'),
    columns: list('columns'),
    ...(entity.onlyWhenValuesChange === true ? { onlyWhenValuesChange: true } : {}),
    health: text('health') === 'unhealthy' ? 'unhealthy' : 'healthy',
    // Int64 values come back as bigint; ours are small, so a number is exact.
    consecutiveFailures: typeof failures === 'number' || typeof failures === 'bigint' ? Number(failures) : 0,
    ...(lastError && typeof lastError === 'object' ? { lastError } : {}),
    ...(lastDeliveredAt ? { lastDeliveredAt } : {}),
    etag: requireEtag(etag),
  };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
