import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore.js';
import type { DeliveryError, NewSubscription } from '../../shared/subscriptions/types.js';
import { testAzurite, unreachableConnectionString } from '../helpers/azurite.js';

const azurite = testAzurite();

/** A store over a fresh table, so tests never see each other's subscriptions. */
async function freshStore(): Promise<{ store: TableSubscriptionStore; client: TableClient }> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `subs${randomBytes(6).toString('hex')}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  return { store: new TableSubscriptionStore(client), client };
}

function newSubscription(overrides: Partial<NewSubscription> = {}): NewSubscription {
  return {
    id: randomBytes(16).toString('hex'),
    callbackUrl: 'https://prod-1.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cret',
    secret: 'the-hmac-secret-0123456789',
    deleteTokenHash: 'ab'.repeat(32),
    createdAt: '2024-05-01T10:00:00.000Z',
    tables: ['account'],
    messages: ['Create', 'Update'],
    columns: ['name', 'telephone1'],
    ...overrides,
  };
}

function deliveryError(n: number): DeliveryError {
  return {
    code: 'HttpStatus',
    message: `The callback answered HTTP 500 (${n}).`,
    status: 500,
    at: `2024-05-01T10:00:0${n % 10}.000Z`,
    eventId: `event-${n}`,
  };
}

describe('TableSubscriptionStore create, get, list, delete', () => {
  it('round-trips a subscription, starting healthy with no failures', async () => {
    const { store } = await freshStore();
    const fields = newSubscription();
    const created = await store.create(fields);
    expect(created).toEqual({ ...fields, health: 'healthy', consecutiveFailures: 0, etag: expect.any(String) });
    expect(await store.get(fields.id)).toEqual(created);
  });

  it('keeps an empty filter list empty', async () => {
    const { store } = await freshStore();
    const fields = newSubscription({ tables: [], messages: [], columns: [] });
    await store.create(fields);
    expect(await store.get(fields.id)).toMatchObject({ tables: [], messages: [], columns: [] });
  });

  it('stores the filters as JSON strings in partition "subscription", keyed by id', async () => {
    const { store, client } = await freshStore();
    const fields = newSubscription();
    await store.create(fields);
    const entity = await client.getEntity<Record<string, unknown>>('subscription', fields.id);
    expect(entity).toMatchObject({
      partitionKey: 'subscription',
      rowKey: fields.id,
      tables: '["account"]',
      messages: '["Create","Update"]',
      columns: '["name","telephone1"]',
      health: 'healthy',
      consecutiveFailures: 0,
    });
  });

  it('gives undefined for an unknown id, lists every subscription, deletes once', async () => {
    const { store } = await freshStore();
    expect(await store.get(randomBytes(16).toString('hex'))).toBeUndefined();
    expect(await store.list()).toEqual([]);
    const a = await store.create(newSubscription());
    const b = await store.create(newSubscription({ tables: [] }));
    const listed = await store.list();
    expect(listed.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(listed.find((s) => s.id === b.id)).toEqual(b);
    expect(await store.delete(a.id)).toBe(true);
    expect(await store.delete(a.id)).toBe(false);
    expect((await store.list()).map((s) => s.id)).toEqual([b.id]);
  });
});

describe('TableSubscriptionStore health', () => {
  it('counts failures, keeps the last error, and turns unhealthy at the threshold', async () => {
    const { store } = await freshStore();
    const { id } = await store.create(newSubscription());
    await store.recordFailure(id, deliveryError(1), 3);
    await store.recordFailure(id, deliveryError(2), 3);
    expect(await store.get(id)).toMatchObject({
      health: 'healthy',
      consecutiveFailures: 2,
      lastError: deliveryError(2),
    });
    await store.recordFailure(id, deliveryError(3), 3);
    expect(await store.get(id)).toMatchObject({
      health: 'unhealthy',
      consecutiveFailures: 3,
      lastError: deliveryError(3),
    });
    await store.recordFailure(id, deliveryError(4), 3);
    expect(await store.get(id)).toMatchObject({ health: 'unhealthy', consecutiveFailures: 4 });
  });

  it('a success makes it healthy again, resets the count and keeps the last error for reference', async () => {
    const { store } = await freshStore();
    const { id } = await store.create(newSubscription());
    await store.recordFailure(id, deliveryError(1), 1);
    await store.recordSuccess(id, '2024-05-01T11:00:00.000Z');
    expect(await store.get(id)).toMatchObject({
      health: 'healthy',
      consecutiveFailures: 0,
      lastDeliveredAt: '2024-05-01T11:00:00.000Z',
      lastError: deliveryError(1),
    });
  });

  it('counts every one of 10 concurrent failures', async () => {
    const { store } = await freshStore();
    const { id } = await store.create(newSubscription());
    await Promise.all(Array.from({ length: 10 }, (_, n) => store.recordFailure(id, deliveryError(n), 5)));
    expect(await store.get(id)).toMatchObject({ consecutiveFailures: 10, health: 'unhealthy' });
  });

  it('writes a success of a healthy subscription only when lastDeliveredAt is missing or a minute old', async () => {
    const { store } = await freshStore();
    const { id } = await store.create(newSubscription());
    await store.recordSuccess(id, '2024-05-01T11:00:00.000Z');
    const first = await store.get(id);
    expect(first?.lastDeliveredAt).toBe('2024-05-01T11:00:00.000Z');

    await store.recordSuccess(id, '2024-05-01T11:00:59.000Z');
    const unchanged = await store.get(id);
    expect(unchanged?.etag).toBe(first?.etag);
    expect(unchanged?.lastDeliveredAt).toBe('2024-05-01T11:00:00.000Z');

    await store.recordSuccess(id, '2024-05-01T11:01:00.000Z');
    expect((await store.get(id))?.lastDeliveredAt).toBe('2024-05-01T11:01:00.000Z');
  });

  it('never moves lastDeliveredAt backwards when healing', async () => {
    const { store } = await freshStore();
    const { id } = await store.create(newSubscription());
    await store.recordSuccess(id, '2024-05-01T12:00:00.000Z');
    await store.recordFailure(id, deliveryError(1), 1);
    await store.recordSuccess(id, '2024-05-01T11:00:00.000Z');
    expect(await store.get(id)).toMatchObject({ health: 'healthy', lastDeliveredAt: '2024-05-01T12:00:00.000Z' });
  });

  it('ignores failures and successes of a subscription that is gone', async () => {
    const { store } = await freshStore();
    const id = randomBytes(16).toString('hex');
    await store.recordFailure(id, deliveryError(1), 1);
    await store.recordSuccess(id, '2024-05-01T11:00:00.000Z');
    expect(await store.get(id)).toBeUndefined();
  });
});

describe('TableSubscriptionStore when storage is unavailable', () => {
  it('raises StorageUnavailableError naming the operation, without the secret', async () => {
    const client = TableClient.fromConnectionString(await unreachableConnectionString(azurite, 'Table'), 'downsubs', {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    const store = new TableSubscriptionStore(client);
    const attempts = [
      store.create(newSubscription()),
      store.get('0'.repeat(32)),
      store.list(),
      store.delete('0'.repeat(32)),
      store.recordFailure('0'.repeat(32), deliveryError(1), 3),
    ];
    const operations: string[] = [];
    for (const attempt of attempts) {
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as Error).message).not.toContain('s3cret');
      expect((error as Error).message).not.toContain('the-hmac-secret');
      operations.push((error as StorageUnavailableError).operation);
    }
    expect(operations).toEqual([
      'create subscription',
      'read subscription',
      'list subscriptions',
      'delete subscription',
      'read subscription',
    ]);
  });
});
