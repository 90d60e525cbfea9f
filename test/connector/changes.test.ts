import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyEvent } from '../../shared/changes/rowState.js';
import type { ChangeRecord, RowSnapshot } from '../../shared/changes/types.js';
import { getRow, listChanges, listTables } from '../../shared/connector/changes.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { testAzurite } from '../helpers/azurite.js';

const azurite = testAzurite();
let store: TableChangeStore;

const ROW = '6d81597f-0f9f-e711-8122-000d3aa2331c';
const BASE = 'https://bridge.example.net/api/tables/account/changes';

function change(i: number, table = 'account'): ChangeRecord {
  return {
    eventId: `00000000-0000-8000-8000-${String(i).padStart(12, '0')}`,
    type: 'dataverse.update',
    message: 'Update',
    table,
    rowId: ROW,
    time: new Date(Date.UTC(2024, 4, 1, 10, 0, i)).toISOString(),
    changedAttributes: ['name'],
    attributes: { name: `v${i}` },
    userId: null,
    initiatingUserId: null,
    operationId: null,
    correlationId: null,
    organizationId: 'org',
    source: '/organizations/org',
  };
}

beforeAll(async () => {
  const prefix = `k${randomBytes(5).toString('hex')}`;
  const open = async (name: string) => {
    const client = TableClient.fromConnectionString(azurite.connectionString, `${prefix}${name}`, {
      allowInsecureConnection: true,
    });
    await client.createTable();
    return client;
  };
  store = new TableChangeStore({
    changes: await open('changes'),
    rows: await open('rows'),
    tables: await open('tables'),
  });
  for (let i = 0; i < 5; i++) await store.append(change(i));
  await store.append(change(9, 'contact'));
  await store.noteTable('contact', new Date('2024-05-01T10:00:09.000Z'));
  await store.noteTable('account', new Date('2024-05-01T10:00:04.000Z'));
  const state = applyEvent(undefined, {
    time: '2024-05-01T10:00:04.000Z',
    eventId: 'e4',
    message: 'Update',
    delete: false,
    attributes: { name: 'v4' },
    formattedValues: {},
  });
  await store.writeRow('account', ROW, state);
});

type ErrorBody = { error: { code: string; message: string; target?: string } };
type PageBody = { value: ChangeRecord[]; nextLink?: string };

describe('listChanges', () => {
  it('returns the newest first with the default page size', async () => {
    const response = await listChanges('account', new URL(BASE), store);
    expect(response.status).toBe(200);
    const body = response.jsonBody as PageBody;
    expect(body.value.map((c) => c.attributes.name)).toEqual(['v4', 'v3', 'v2', 'v1', 'v0']);
    expect(body.nextLink).toBeUndefined();
  });

  it('pages through nextLink, keeping the other parameters and dropping the key', async () => {
    let url: string | undefined = `${BASE}?top=2&since=2024-05-01T10:00:01Z&code=secret-key`;
    const names: string[] = [];
    const links: string[] = [];
    while (url) {
      const response = await listChanges('account', new URL(url), store);
      expect(response.status).toBe(200);
      const body = response.jsonBody as PageBody;
      names.push(...body.value.map((c) => String(c.attributes.name)));
      url = body.nextLink;
      if (url) links.push(url);
    }
    expect(names).toEqual(['v4', 'v3', 'v2', 'v1']);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      const next = new URL(link);
      expect(next.origin + next.pathname).toBe(BASE);
      expect(next.searchParams.get('top')).toBe('2');
      expect(next.searchParams.get('since')).toBe('2024-05-01T10:00:01Z');
      expect(next.searchParams.get('continuation')).toEqual(expect.any(String));
      expect(next.searchParams.has('code')).toBe(false);
      expect(link).not.toContain('secret-key');
    }
  });

  it.each([
    ['since', 'since=yesterday'],
    ['top', 'top=0'],
    ['top', 'top=1001'],
    ['top', 'top=2.5'],
    ['top', 'top=ten'],
    ['continuation', 'continuation=not-a-token'],
  ])('answers 400 InvalidParameter with target %s for %s', async (target, query) => {
    const response = await listChanges('account', new URL(`${BASE}?${query}`), store);
    expect(response.status).toBe(400);
    const { error } = response.jsonBody as ErrorBody;
    expect(error.code).toBe('InvalidParameter');
    expect(error.target).toBe(target);
    expect(error.message).toMatch(/\.$/);
  });

  it.each(['acc/ount', 'a b', '', 'x'.repeat(129), 'café'])('answers 400 for the table name %j', async (table) => {
    const response = await listChanges(table, new URL(BASE), store);
    expect(response.status).toBe(400);
    expect((response.jsonBody as ErrorBody).error).toMatchObject({ code: 'InvalidParameter', target: 'table' });
  });

  it('an unknown table has no changes', async () => {
    const response = await listChanges('lead', new URL(BASE), store);
    expect(response).toEqual({ status: 200, jsonBody: { value: [] } });
  });
});

describe('getRow', () => {
  it('returns the snapshot', async () => {
    const response = await getRow('account', ROW, store);
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({
      table: 'account',
      id: ROW,
      deleted: false,
      attributes: { name: 'v4' },
      formattedValues: {},
      updatedAt: '2024-05-01T10:00:04.000Z',
      lastEventId: 'e4',
      lastMessage: 'Update',
    } satisfies RowSnapshot);
  });

  it('answers 404 NotFound for a row no event named, without repeating the values sent', async () => {
    const response = await getRow('account', '11111111-2222-3333-4444-555555555555', store);
    expect(response.status).toBe(404);
    expect((response.jsonBody as ErrorBody).error).toMatchObject({ code: 'NotFound', target: 'id' });
    expect((response.jsonBody as ErrorBody).error.message).not.toContain('11111111');
    expect((response.jsonBody as ErrorBody).error.message).not.toContain('account');
  });

  it('answers 400 for a bad table or an id that is not a GUID', async () => {
    expect((await getRow('bad/table', ROW, store)).status).toBe(400);
    for (const id of ['', 'x'.repeat(129), 'a\u0000b', 'abc', '6d81597f-0f9f-e711-8122-000d3aa2331']) {
      const response = await getRow('account', id, store);
      expect(response.status).toBe(400);
      expect((response.jsonBody as ErrorBody).error).toMatchObject({ code: 'InvalidParameter', target: 'id' });
    }
  });
});

describe('listTables', () => {
  it('lists the tables seen, by name', async () => {
    expect(await listTables(store)).toEqual({
      status: 200,
      jsonBody: {
        value: [
          { name: 'account', lastSeenAt: '2024-05-01T10:00:04.000Z' },
          { name: 'contact', lastSeenAt: '2024-05-01T10:00:09.000Z' },
        ],
      },
    });
  });
});
