/**
 * Enrichment as `npm start` serves it, end to end: DATAVERSE_URL pointing at the Dataverse double (local mode, no
 * credential), Dataverse webhook posts through the local host, the in-process fan-out to projectChanges and
 * deliverSubscriptions, and a subscriber that asked for really-changed values only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseDouble } from '../doubles/dataverse.js';
import { dataContractJson, entity, kv, rawContext, typed } from '../helpers/contexts.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';

let dataverse: DataverseDouble;
let host: RunningHost;
let subscriber: Server;
let subscriberUrl: string;
const delivered: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dataverse = new DataverseDouble();
  dataverse.seedTable({
    logicalName: 'contact',
    primaryNameAttribute: 'fullname',
    columns: [
      { logicalName: 'fullname', type: 'String' },
      { logicalName: 'telephone1', type: 'String' },
    ],
  });
  await dataverse.start();
  subscriber = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      delivered.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/hook`;
  host = await startLocalHost({ DATAVERSE_URL: dataverse.url });
});

afterAll(async () => {
  await host?.stop();
  await dataverse?.stop();
  await new Promise((resolve) => subscriber?.close(resolve));
});

function post(raw: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return host.request('/api/dataverse/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: dataContractJson(raw),
  });
}

function update(id: string, time: number, attributes: Record<string, unknown>): Record<string, unknown> {
  return rawContext({
    OperationId: randomUUID(),
    OperationCreatedOn: `/Date(${time})/`,
    PrimaryEntityId: id,
    InputParameters: kv({ Target: typed('Entity', entity('contact', id, attributes)) }),
  });
}

async function events(): Promise<Array<{ subject: string; data: Record<string, unknown> }>> {
  const body = (await (await host.request('/admin/events')).json()) as {
    value: Array<{ subject: string; data: Record<string, unknown> }>;
  };
  return body.value;
}

describe('npm start with DATAVERSE_URL: what the bridge adds to events', () => {
  it('publishes a truncated context with its fetched row', async () => {
    const [id] = dataverse.seedRows('contact', [{ fullname: 'Ada Lovelace', telephone1: '555-0100' }]) as [string];
    const raw = rawContext({ OperationId: randomUUID(), PrimaryEntityId: id, InputParameters: [] });
    const response = await post(raw, { 'x-ms-dynamics-msg-size-exceeded': 'true' });
    expect(response.status).toBe(200);
    const event = (await events()).find((e) => e.subject === `contact/${id}`);
    expect(event?.data).toMatchObject({
      messageMaxSizeExceeded: true,
      $bridge: {
        fetchedRow: {
          fetchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          found: true,
          attributes: { fullname: 'Ada Lovelace', telephone1: '555-0100' },
        },
      },
    });
  });

  it('delivers to an onlyWhenValuesChange subscriber only the updates that changed its column, and logs previous values', async () => {
    const created = await host.request('/api/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        callbackUrl: subscriberUrl,
        table: 'contact',
        columns: 'telephone1',
        onlyWhenValuesChange: true,
      }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ onlyWhenValuesChange: true, columns: ['telephone1'] });

    const id = randomUUID();
    const t = Date.parse('2026-02-01T10:00:00.000Z');
    const steps: Array<[number, Record<string, unknown>]> = [
      [t, { fullname: 'Ada', telephone1: '1' }], // unseen row: the previous value is unknown, which counts as changed
      [t + 1000, { fullname: 'Ada L.', telephone1: '1' }], // telephone1 sent again, unchanged: not delivered
      [t + 2000, { telephone1: '2' }], // changed: delivered
    ];
    for (const [time, attributes] of steps) {
      expect((await post(update(id, time, attributes))).status).toBe(200);
      // Wait until projectChanges merged it, so the next update finds the snapshot.
      await expect
        .poll(async () => {
          const row = await host.request(`/api/tables/contact/rows/${id}`);
          return row.status === 200 ? ((await row.json()) as { updatedAt: string }).updatedAt : undefined;
        })
        .toBe(new Date(time).toISOString());
    }
    await expect.poll(() => delivered.filter((d) => d.primaryEntityId === id).length).toBe(2);
    // Give a wrong delivery the time to arrive, then check there was none.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const mine = delivered.filter((d) => d.primaryEntityId === id);
    expect(mine.map((d) => (d.$bridge as { valueChangedAttributes: string[] }).valueChangedAttributes)).toEqual([
      [],
      ['telephone1'],
    ]);
    expect(mine[0]?.$bridge).toMatchObject({ unknownPreviousAttributes: ['fullname', 'telephone1'] });

    const changes = (await (await host.request('/api/tables/contact/changes?top=10')).json()) as {
      value: Array<Record<string, unknown>>;
    };
    const byTime = new Map(changes.value.filter((c) => c.rowId === id).map((c) => [c.time, c]));
    expect(byTime.get(new Date(t + 1000).toISOString())).toMatchObject({
      changedAttributes: ['fullname', 'telephone1'],
      previousValues: { fullname: 'Ada', telephone1: '1' },
      valueChangedAttributes: ['fullname'],
      unknownPreviousAttributes: [],
    });
    expect(byTime.get(new Date(t + 2000).toISOString())).toMatchObject({
      previousValues: { telephone1: '1' },
      valueChangedAttributes: ['telephone1'],
    });
  });
});
