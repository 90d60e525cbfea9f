import { randomBytes, randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableDeliveryLog } from '../../shared/store/tableDeliveryLog.js';
import { testAzurite } from '../helpers/azurite.js';

const azurite = testAzurite();

async function freshLog(): Promise<{ log: TableDeliveryLog; client: TableClient }> {
  const client = TableClient.fromConnectionString(azurite.connectionString, `dlv${randomBytes(6).toString('hex')}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  return { log: new TableDeliveryLog(client), client };
}

const subscriptionId = () => randomBytes(16).toString('hex');

describe('TableDeliveryLog', () => {
  it('has served nobody for a new event', async () => {
    const { log } = await freshLog();
    expect(await log.served(randomUUID())).toEqual(new Set());
  });

  it('remembers the subscriptions served per event, and only for that event', async () => {
    const { log } = await freshLog();
    const [event, other] = [randomUUID(), randomUUID()];
    const [a, b, c] = [subscriptionId(), subscriptionId(), subscriptionId()];
    await log.markServed(event, a, 'delivery-a');
    await log.markServed(event, b, 'delivery-b');
    await log.markServed(other, c, 'delivery-c');
    expect(await log.served(event)).toEqual(new Set([a, b]));
    expect(await log.served(other)).toEqual(new Set([c]));
  });

  it('marks twice harmlessly (upsert)', async () => {
    const { log } = await freshLog();
    const event = randomUUID();
    const a = subscriptionId();
    await log.markServed(event, a, 'delivery-a');
    await log.markServed(event, a, 'delivery-a');
    expect(await log.served(event)).toEqual(new Set([a]));
  });

  it('stores one entity per event and subscription: partition = event id, row = subscription id', async () => {
    const { log, client } = await freshLog();
    const event = randomUUID();
    const a = subscriptionId();
    await log.markServed(event, a, 'delivery-a');
    const entity = await client.getEntity<Record<string, unknown>>(event, a);
    expect(entity).toMatchObject({ partitionKey: event, rowKey: a, eventId: event, deliveryId: 'delivery-a' });
    expect(Number.isNaN(Date.parse(String(entity.servedAt)))).toBe(false);
  });

  it('accepts event ids with characters Table keys refuse', async () => {
    const { log } = await freshLog();
    const [slashed, hashed] = ['org/event#1?x', 'org\\event'];
    const a = subscriptionId();
    await log.markServed(slashed, a, 'delivery-a');
    expect(await log.served(slashed)).toEqual(new Set([a]));
    expect(await log.served(hashed)).toEqual(new Set());
  });
});
