import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import type { DeliveryLog } from '../subscriptions/types.js';
import { toStorageError } from './errors.js';

// What a Table key may hold without escaping trouble: our event ids (UUIDs) and anything as plain.
const SAFE_KEY = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * {@link DeliveryLog} over Azure Table Storage: partition key = event id, row key = subscription id, so `served` is
 * one partition query per event and `markServed` an upsert (marking twice is harmless). Each entity also keeps the
 * delivery id and when it was written.
 *
 * Entries are only needed while Event Grid may retry the event (24 hours by default); nothing here removes them.
 * An event id with characters Table keys do not allow (`/`, `\`, `#`, `?`, control characters) is keyed by its
 * SHA-256 instead.
 *
 * @example
 * const log = new TableDeliveryLog(storage.table(storage.names.deliveries));
 * if (!(await log.served(eventId)).has(subscriptionId)) { … await log.markServed(eventId, subscriptionId, deliveryId); }
 */
export class TableDeliveryLog implements DeliveryLog {
  private readonly client: () => Promise<TableClient>;

  constructor(client: TableClient | (() => Promise<TableClient>)) {
    this.client = typeof client === 'function' ? client : async () => client;
  }

  async served(eventId: string): Promise<Set<string>> {
    const client = await this.client();
    const { odata } = await import('@azure/data-tables');
    const served = new Set<string>();
    try {
      const entities = client.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${keyFor(eventId)}`, select: ['RowKey'] },
      });
      for await (const entity of entities) {
        if (typeof entity.rowKey === 'string') served.add(entity.rowKey);
      }
    } catch (error) {
      throw toStorageError(error, 'read deliveries', `table ${client.tableName}`);
    }
    return served;
  }

  async markServed(eventId: string, subscriptionId: string, deliveryId: string): Promise<void> {
    const client = await this.client();
    try {
      await client.upsertEntity(
        {
          partitionKey: keyFor(eventId),
          rowKey: subscriptionId,
          eventId,
          deliveryId,
          servedAt: new Date().toISOString(),
        },
        'Replace',
      );
    } catch (error) {
      throw toStorageError(error, 'record delivery', `table ${client.tableName}`);
    }
  }
}

function keyFor(eventId: string): string {
  return SAFE_KEY.test(eventId) ? eventId : `sha256-${createHash('sha256').update(eventId).digest('hex')}`;
}
