import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { RowTooLargeError } from '../../shared/changes/errors.js';
import { applyEvent, type RowState } from '../../shared/changes/rowState.js';
import type { ChangeRecord } from '../../shared/changes/types.js';
import { InvalidContinuationError } from '../../shared/errors.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { testAzurite, unreachableConnectionString } from '../helpers/azurite.js';

const azurite = testAzurite();

interface Fresh {
  store: TableChangeStore;
  changes: TableClient;
  rows: TableClient;
  tables: TableClient;
}

function client(name: string, connectionString = azurite.connectionString): TableClient {
  return TableClient.fromConnectionString(connectionString, name, {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });
}

/** A store over three fresh tables, so tests never see each other's data. */
async function fresh(options: { noteIntervalMs?: number } = {}): Promise<Fresh> {
  const prefix = `c${randomBytes(5).toString('hex')}`;
  const [changes, rows, tables] = [client(`${prefix}changes`), client(`${prefix}rows`), client(`${prefix}tables`)];
  await Promise.all([changes.createTable(), rows.createTable(), tables.createTable()]);
  return { store: new TableChangeStore({ changes, rows, tables }, options), changes, rows, tables };
}

const ROW = '6d81597f-0f9f-e711-8122-000d3aa2331c';

function change(overrides: Partial<ChangeRecord> = {}): ChangeRecord {
  return {
    eventId: '00000000-0000-8000-8000-000000000001',
    type: 'dataverse.update',
    message: 'Update',
    table: 'account',
    rowId: ROW,
    time: '2024-05-01T10:00:00.000Z',
    changedAttributes: ['name'],
    attributes: { name: 'Contoso' },
    userId: 'u1',
    initiatingUserId: null,
    operationId: 'op1',
    correlationId: null,
    organizationId: 'org1',
    source: '/organizations/org1',
    ...overrides,
  };
}

/** Every entity in a table, as stored. */
async function entitiesOf(table: TableClient): Promise<Record<string, unknown>[]> {
  const entities: Record<string, unknown>[] = [];
  for await (const entity of table.listEntities<Record<string, unknown>>()) entities.push(entity);
  return entities;
}

/** Every change of a table, page by page. */
async function allChanges(store: TableChangeStore, table: string, top = 1000): Promise<ChangeRecord[]> {
  const all: ChangeRecord[] = [];
  let continuation: string | undefined;
  do {
    const page = await store.listChanges(table, { top, ...(continuation ? { continuation } : {}) });
    all.push(...page.changes);
    continuation = page.continuation;
  } while (continuation);
  return all;
}

function stateOf(attributes: Record<string, unknown>, eventId = 'e1'): RowState {
  return applyEvent(undefined, {
    time: '2024-05-01T10:00:00.000Z',
    eventId,
    message: 'Create',
    delete: false,
    attributes,
    formattedValues: {},
  });
}

describe('TableChangeStore: the change log', () => {
  it('round-trips a change, with null fields left out of the entity', async () => {
    const { store, changes } = await fresh();
    const record = change();
    await store.append(record);
    expect(await allChanges(store, 'account')).toEqual([record]);
    const [entity] = await entitiesOf(changes);
    expect(entity).toMatchObject({ partitionKey: 'account', eventId: record.eventId, time: record.time, rowId: ROW });
    expect(entity).not.toHaveProperty('initiatingUserId');
    expect(entity).not.toHaveProperty('correlationId');
  });

  it('is idempotent: appending the same event again leaves one entry', async () => {
    const { store } = await fresh();
    await store.append(change());
    await store.append(change());
    await Promise.all([store.append(change()), store.append(change())]);
    expect(await allChanges(store, 'account')).toHaveLength(1);
  });

  it('lists newest first, ties at the same millisecond by event id descending, each table apart', async () => {
    const { store } = await fresh();
    const entries = [
      change({ eventId: 'b', time: '2024-05-01T10:00:00.000Z' }),
      change({ eventId: 'a', time: '2024-05-01T10:00:00.001Z' }),
      change({ eventId: 'c', time: '2024-05-01T09:59:59.999Z' }),
      change({ eventId: 'tie-1', time: '2024-05-01T10:00:00.000Z' }),
      change({ eventId: 'tie-10', time: '2024-05-01T10:00:00.000Z' }),
      change({ eventId: 'tie-2', time: '2024-05-01T10:00:00.000Z' }),
      change({ eventId: 'old', time: '1969-12-31T23:59:59.000Z' }),
      change({ eventId: 'x', table: 'contact', time: '2030-01-01T00:00:00.000Z' }),
    ];
    for (const entry of [...entries].reverse()) await store.append(entry);
    expect((await allChanges(store, 'account')).map((c) => c.eventId)).toEqual([
      'a',
      'tie-2',
      'tie-10',
      'tie-1',
      'b',
      'c',
      'old',
    ]);
    expect((await allChanges(store, 'contact')).map((c) => c.eventId)).toEqual(['x']);
    expect(await allChanges(store, 'lead')).toEqual([]);
  });

  it('since: only changes at or after the instant, filtered by the service', async () => {
    const { store } = await fresh();
    for (const [eventId, time] of [
      ['e1', '2024-05-01T10:00:00.000Z'],
      ['e2', '2024-05-01T10:00:00.999Z'],
      ['e3', '2024-05-01T10:00:01.000Z'],
      ['e4', '2024-05-01T10:00:01.000Z'],
      ['e5', '2024-05-01T10:00:02.000Z'],
    ] as const) {
      await store.append(change({ eventId, time }));
    }
    const since = async (iso: string) =>
      (await store.listChanges('account', { since: new Date(iso) })).changes.map((c) => c.eventId);
    expect(await since('2024-05-01T10:00:01.000Z')).toEqual(['e5', 'e4', 'e3']);
    expect(await since('2024-05-01T10:00:00.001Z')).toEqual(['e5', 'e4', 'e3', 'e2']);
    expect(await since('2024-05-01T10:00:02.001Z')).toEqual([]);
    expect(await since('2000-01-01T00:00:00.000Z')).toHaveLength(5);
  });

  it('pages with a continuation token, in order across pages, and with since', async () => {
    const { store } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const eventId = `e${i}`;
      ids.unshift(eventId);
      await store.append(change({ eventId, time: new Date(Date.UTC(2024, 4, 1, 10, 0, i)).toISOString() }));
    }
    const first = await store.listChanges('account', { top: 3 });
    expect(first.changes.map((c) => c.eventId)).toEqual(['e6', 'e5', 'e4']);
    expect(first.continuation).toEqual(expect.any(String));
    expect((await allChanges(store, 'account', 3)).map((c) => c.eventId)).toEqual(ids);
    const sincePages: string[] = [];
    let continuation: string | undefined;
    do {
      const page = await store.listChanges('account', {
        top: 2,
        since: new Date('2024-05-01T10:00:02.000Z'),
        ...(continuation ? { continuation } : {}),
      });
      sincePages.push(...page.changes.map((c) => c.eventId));
      continuation = page.continuation;
    } while (continuation);
    expect(sincePages).toEqual(['e6', 'e5', 'e4', 'e3', 'e2']);
  });

  it('defaults to 50 per page and caps top at 1000', async () => {
    const { store } = await fresh();
    await Promise.all(
      Array.from({ length: 55 }, (_, i) =>
        store.append(change({ eventId: `e${String(i).padStart(2, '0')}`, time: '2024-05-01T10:00:00.000Z' })),
      ),
    );
    expect((await store.listChanges('account', {})).changes).toHaveLength(50);
    expect((await store.listChanges('account', { top: 5000 })).changes).toHaveLength(55);
    expect((await store.listChanges('account', { top: 0 })).changes).toHaveLength(1);
  });

  it("refuses a malformed continuation token; another table's token still reads only this table", async () => {
    const { store } = await fresh();
    for (let i = 0; i < 3; i++) await store.append(change({ eventId: `e${i}` }));
    await store.append(change({ table: 'contact', eventId: 'c1' }));
    for (const token of ['not a token', Buffer.from('{}').toString('base64'), Buffer.from('null').toString('base64')]) {
      await expect(store.listChanges('account', { continuation: token })).rejects.toBeInstanceOf(
        InvalidContinuationError,
      );
    }
    const accountPage = await store.listChanges('account', { top: 1 });
    const crossed = await store.listChanges('contact', { continuation: accountPage.continuation as string });
    for (const entry of crossed.changes) expect(entry.table).toBe('contact');
  });

  it('splits large column values across json properties and reads them back whole', async () => {
    const { store, changes } = await fresh();
    // An emoji (a surrogate pair) straddling the 30,000-character chunk boundary must survive the split. The rest is
    // ASCII because Azurite 3.35 itself garbles a multi-byte character that straddles a 64 KiB boundary of the
    // request body (Azure/Azurite#2670); Azure does not.
    const big = `${'a'.repeat(29_990)}😀${'b'.repeat(70_000)}`;
    const record = change({ attributes: { description: big, name: 'Contoso', more: 'c'.repeat(20_000) } });
    await store.append(record);
    expect(await allChanges(store, 'account')).toEqual([record]);
    const [entity] = await entitiesOf(changes);
    const chunkNames = Object.keys(entity ?? {}).filter((name) => /^json\d+$/.test(name));
    expect(chunkNames.length).toBeGreaterThanOrEqual(4);
    for (const name of chunkNames) expect(String(entity?.[name]).length).toBeLessThanOrEqual(30_000);
  });

  it('stores a change whose columns cannot fit without them, flagged attributesTruncated', async () => {
    const { store } = await fresh();
    const record = change({ attributes: { a: 'x'.repeat(300_000), b: 'y'.repeat(300_000) }, changedAttributes: ['a'] });
    await store.append(record);
    const [stored] = await allChanges(store, 'account');
    expect(stored).toEqual({ ...record, attributes: {}, attributesTruncated: true });
  });

  it('keeps previous values and really-changed columns, and drops the previous values with the columns when too large', async () => {
    const { store } = await fresh();
    const enriched = change({
      eventId: 'e-prev',
      changedAttributes: ['name', 'fax'],
      attributes: { name: 'B', fax: null },
      previousValues: { name: 'A' },
      valueChangedAttributes: ['name'],
      unknownPreviousAttributes: ['fax'],
    });
    await store.append(enriched);
    const huge = change({
      eventId: 'e-huge',
      time: '2024-05-01T10:00:01.000Z',
      changedAttributes: ['a'],
      attributes: { a: 'x'.repeat(300_000) },
      previousValues: { a: 'y'.repeat(300_000) },
      valueChangedAttributes: ['a'],
      unknownPreviousAttributes: [],
    });
    await store.append(huge);
    const stored = await allChanges(store, 'account');
    expect(stored.find((c) => c.eventId === 'e-prev')).toEqual(enriched);
    expect(stored.find((c) => c.eventId === 'e-huge')).toEqual({
      ...huge,
      attributes: {},
      previousValues: {},
      attributesTruncated: true,
    });
  });

  it('encodes keys that Table storage forbids, and reads them back', async () => {
    const { store, changes, rows } = await fresh();
    const table = "we/ird\\ta#ble?'%";
    const rowId = "row/1\\#?'%\u0001";
    await store.append(change({ table, rowId, eventId: 'ev/1?#' }));
    await store.append(change({ table, rowId, eventId: 'ev/2?#', time: '2024-05-01T10:00:01.000Z' }));
    expect((await allChanges(store, table)).map((c) => [c.eventId, c.table, c.rowId])).toEqual([
      ['ev/2?#', table, rowId],
      ['ev/1?#', table, rowId],
    ]);
    const page = await store.listChanges(table, { top: 1 });
    expect((await store.listChanges(table, { continuation: page.continuation as string })).changes).toHaveLength(1);
    const [logged] = await entitiesOf(changes);
    expect(logged?.partitionKey).toBe("we%2Fird%5Cta%23ble%3F'%25");

    expect(await store.writeRow(table, rowId, stateOf({ name: 'x' }))).toBe(true);
    expect((await store.readRow(table, rowId))?.state).toEqual(stateOf({ name: 'x' }));
    expect(await store.getRow(table, rowId)).toMatchObject({ table, id: rowId, attributes: { name: 'x' } });
    const [row] = await entitiesOf(rows);
    expect(row?.rowKey).toBe("row%2F1%5C%23%3F'%25%01");

    await store.noteTable(table);
    expect((await store.listTables()).map((t) => t.name)).toEqual([table]);
  });
});

describe('TableChangeStore: row snapshots', () => {
  it('reads nothing for an unknown row', async () => {
    const { store } = await fresh();
    expect(await store.readRow('account', ROW)).toBeUndefined();
    expect(await store.getRow('account', ROW)).toBeUndefined();
  });

  it('inserts without an ETag and reports a conflict when the row already exists', async () => {
    const { store } = await fresh();
    expect(await store.writeRow('account', ROW, stateOf({ name: 'first' }))).toBe(true);
    expect(await store.writeRow('account', ROW, stateOf({ name: 'second' }))).toBe(false);
    expect((await store.readRow('account', ROW))?.state).toEqual(stateOf({ name: 'first' }));
  });

  it('replaces only with the current ETag: a stale one is a conflict', async () => {
    const { store } = await fresh();
    await store.writeRow('account', ROW, stateOf({ name: 'v1' }));
    const read = await store.readRow('account', ROW);
    expect(read?.etag).toEqual(expect.any(String));
    expect(await store.writeRow('account', ROW, stateOf({ name: 'v2' }), read?.etag)).toBe(true);
    expect(await store.writeRow('account', ROW, stateOf({ name: 'v3' }), read?.etag)).toBe(false);
    expect((await store.readRow('account', ROW))?.state).toEqual(stateOf({ name: 'v2' }));
  });

  it('a conditional replace of a row that is gone is a conflict, not an error', async () => {
    const { store, rows } = await fresh();
    await store.writeRow('account', ROW, stateOf({ name: 'v1' }));
    const read = await store.readRow('account', ROW);
    await rows.deleteEntity('account', ROW);
    expect(await store.writeRow('account', ROW, stateOf({ name: 'v2' }), read?.etag)).toBe(false);
  });

  it('finds a row by its GUID in any case', async () => {
    const { store } = await fresh();
    await store.writeRow('account', ROW, stateOf({ name: 'x' }));
    expect(await store.getRow('account', ROW.toUpperCase())).toMatchObject({ id: ROW, attributes: { name: 'x' } });
  });

  it('round-trips a large state split across properties', async () => {
    const { store } = await fresh();
    const state = stateOf({ description: `${'d'.repeat(29_995)}😀${'e'.repeat(120_000)}`, name: 'Contoso' });
    expect(await store.writeRow('account', ROW, state)).toBe(true);
    expect((await store.readRow('account', ROW))?.state).toEqual(state);
  });

  it('refuses a state larger than an entity holds', async () => {
    const { store } = await fresh();
    const state = stateOf({ a: 'x'.repeat(250_000), b: 'y'.repeat(250_000) });
    await expect(store.writeRow('account', ROW, state)).rejects.toBeInstanceOf(RowTooLargeError);
  });
});

describe('TableChangeStore: tables', () => {
  it('lists noted tables by name with when they were last seen', async () => {
    const { store } = await fresh();
    await store.noteTable('contact', new Date('2024-05-01T10:00:00.000Z'));
    await store.noteTable('account', new Date('2024-05-01T11:00:00.000Z'));
    expect(await store.listTables()).toEqual([
      { name: 'account', lastSeenAt: '2024-05-01T11:00:00.000Z' },
      { name: 'contact', lastSeenAt: '2024-05-01T10:00:00.000Z' },
    ]);
  });

  it('writes a table again only once the interval has passed', async () => {
    const { store, tables } = await fresh({ noteIntervalMs: 60_000 });
    const t0 = Date.parse('2024-05-01T10:00:00.000Z');
    await store.noteTable('account', new Date(t0));
    // Remove it behind the store's back: a note within the interval makes no request, so it stays gone.
    await tables.deleteEntity('tables', 'account');
    await store.noteTable('account', new Date(t0 + 59_000));
    expect(await store.listTables()).toEqual([]);
    await store.noteTable('account', new Date(t0 + 60_000));
    expect(await store.listTables()).toEqual([{ name: 'account', lastSeenAt: '2024-05-01T10:01:00.000Z' }]);
  });

  it('a failed note is not remembered, so the next one writes', async () => {
    const down = await unreachable();
    const { tables } = await fresh();
    // One store whose tables client is unreachable first, then reachable (the lazy form lets the test swap it).
    let current: TableClient = down;
    const recovering = new TableChangeStore({ changes: down, rows: down, tables: async () => current });
    await expect(recovering.noteTable('account')).rejects.toBeInstanceOf(StorageUnavailableError);
    current = tables;
    await recovering.noteTable('account');
    expect((await recovering.listTables()).map((t) => t.name)).toEqual(['account']);
  });
});

async function unreachable(): Promise<TableClient> {
  const connectionString = await unreachableConnectionString(azurite, 'Table');
  return client('downchanges', connectionString);
}

describe('TableChangeStore: storage unavailable', () => {
  it('raises StorageUnavailableError for every operation, naming it, with no account key', async () => {
    const down = await unreachable();
    const store = new TableChangeStore({ changes: down, rows: down, tables: down });
    const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] as string;
    const operations: [string, Promise<unknown>][] = [
      ['append change', store.append(change())],
      ['read row', store.readRow('account', ROW)],
      ['write row', store.writeRow('account', ROW, stateOf({ a: 1 }))],
      ['note table', store.noteTable('account')],
      ['list changes', store.listChanges('account', {})],
      ['list tables', store.listTables()],
    ];
    for (const [operation, promise] of operations) {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageUnavailableError);
      expect((error as StorageUnavailableError).operation).toBe(operation);
      expect((error as Error).message).not.toContain(key);
    }
  });
});
