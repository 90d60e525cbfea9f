import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { projectChange, RowContentionError } from '../../shared/changes/projectChanges.js';
import type { ChangeRecord, ChangeStore, RowSnapshot } from '../../shared/changes/types.js';
import { readContext } from '../../shared/dataverse/index.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import type { BridgeEvent } from '../../shared/events/types.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { openStorage } from '../../shared/store/connect.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { startCountingProxy } from '../bench/countingProxy.js';
import { testAzurite } from '../helpers/azurite.js';
import { dataContractJson, entity, kv, ROW_ID, rawContext, reference, typed } from '../helpers/contexts.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';
import { seededRandom, shuffled } from '../helpers/pipeline.js';

const azurite = testAzurite();

const RECEIVED = new Date('2026-01-02T03:04:05.000Z');

/** A store over a fresh prefix, built the way the app builds it (tables created on first use). */
function freshStore(connectionString = azurite.connectionString): TableChangeStore {
  const storage = openStorage({
    kind: 'connectionString',
    connectionString,
    prefix: `p${randomBytes(5).toString('hex')}`,
  });
  return new TableChangeStore({
    changes: storage.table(storage.names.changes),
    rows: storage.table(storage.names.rows),
    tables: storage.table(storage.names.tables),
  });
}

/** The CloudEvent the pipeline publishes for some context bytes, as the trigger hands it over (a JSON copy). */
function eventFor(bytes: Uint8Array): BridgeEvent {
  const context = readContext(bytes);
  const event = toCloudEvent(context, eventIdFor(jobKeyForContext(context, bytes)), RECEIVED);
  return JSON.parse(JSON.stringify(event)) as BridgeEvent;
}

/** Every reference sample the reader accepts, one event per event id (the two edited 2018 captures share one). */
function sampleEvents(): BridgeEvent[] {
  const events = new Map<string, BridgeEvent>();
  for (const name of contextNames()) {
    let event: BridgeEvent;
    try {
      event = eventFor(contextBytes(name));
    } catch {
      continue;
    }
    if (!events.has(event.id)) events.set(event.id, event);
  }
  return [...events.values()];
}

const CONTACT_B = '0f7a6c1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b';
let operation = 0;

/** A synthetic contact event: `ms` is the operation time (epoch ms), the Target carries `attributes`. */
function synthetic(
  message: string,
  rowId: string,
  iso: string,
  attributes: Record<string, unknown> = {},
  formattedValues: Record<string, unknown> = {},
): BridgeEvent {
  operation++;
  const target =
    message === 'Delete'
      ? reference('contact', rowId)
      : typed(
          'Entity',
          entity('contact', rowId, attributes, {
            FormattedValues: kv(formattedValues),
          }),
        );
  const raw = rawContext({
    MessageName: message,
    PrimaryEntityId: rowId,
    OperationId: `00000000-0000-4000-8000-${String(operation).padStart(12, '0')}`,
    OperationCreatedOn: `/Date(${Date.parse(iso)})/`,
    InputParameters: kv({ Target: target }),
  });
  return eventFor(Buffer.from(dataContractJson(raw)));
}

/**
 * The synthetic histories:
 * - the Learn sample's contact (ROW_ID, updated 2017-09-26T07:04:08Z): updated again, then deleted → a tombstone;
 * - contact B: created, updated, deleted, created again, then two updates at the very same instant (a tie).
 */
function syntheticEvents() {
  const laterUpdate = synthetic('Update', ROW_ID, '2017-09-26T08:00:00.000Z', { firstname: 'Jim' });
  const deleteA = synthetic('Delete', ROW_ID, '2017-09-27T00:00:00.000Z');
  const createB = synthetic(
    'Create',
    CONTACT_B,
    '2024-05-01T10:00:00.000Z',
    { firstname: 'Ann', lastname: 'Lee', telephone1: '555-0100', statuscode: typed('OptionSetValue', { Value: 1 }) },
    { statuscode: 'Active' },
  );
  const updateB = synthetic('Update', CONTACT_B, '2024-05-01T10:01:00.000Z', { telephone1: '555-0101' });
  const deleteB = synthetic('Delete', CONTACT_B, '2024-05-01T10:02:00.000Z');
  const recreateB = synthetic(
    'Create',
    CONTACT_B,
    '2024-05-01T10:03:00.000Z',
    { firstname: 'Ann', lastname: 'Lee', statuscode: typed('OptionSetValue', { Value: 1 }) },
    { statuscode: 'Active' },
  );
  const tieX = synthetic('Update', CONTACT_B, '2024-05-01T10:04:00.000Z', { lastname: 'Li' });
  const tieY = synthetic('Update', CONTACT_B, '2024-05-01T10:04:00.000Z', { lastname: 'Le' });
  return {
    events: [laterUpdate, deleteA, createB, updateB, deleteB, recreateB, tieX, tieY],
    deleteA,
    tieX,
    tieY,
  };
}

/** Events in the order they happened: by time, then event id. */
function inOrder(events: readonly BridgeEvent[]): BridgeEvent[] {
  const time = (event: BridgeEvent) => Date.parse(event.data.operationCreatedOn ?? event.time);
  return [...events].sort((a, b) => time(a) - time(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function allChanges(store: TableChangeStore, table: string): Promise<ChangeRecord[]> {
  const all: ChangeRecord[] = [];
  let continuation: string | undefined;
  do {
    const page = await store.listChanges(table, { top: 7, ...(continuation ? { continuation } : {}) });
    all.push(...page.changes);
    continuation = page.continuation;
  } while (continuation);
  return all;
}

/** What a store shows: every table's change log and every row's snapshot. */
async function view(store: TableChangeStore, events: readonly BridgeEvent[]) {
  const tables = [...new Set(events.map((event) => event.data.primaryEntityName))].sort();
  const rows = [...new Set(events.map((event) => `${event.data.primaryEntityName}/${event.data.primaryEntityId}`))];
  const snapshots: Record<string, RowSnapshot | undefined> = {};
  for (const row of rows.sort()) {
    const [table, id] = row.split('/') as [string, string];
    snapshots[row] = await store.getRow(table, id);
  }
  const changes: Record<string, ChangeRecord[]> = {};
  for (const table of tables) changes[table] = await allChanges(store, table);
  return { tables: (await store.listTables()).map((t) => t.name), snapshots, changes };
}

describe('projectChange: order-insensitive and idempotent against Table storage', () => {
  it('gives the same snapshots and change logs for in-order, shuffled, duplicated and concurrent deliveries', async () => {
    const samples = sampleEvents();
    expect(samples.length).toBeGreaterThanOrEqual(10);
    const { events: histories, deleteA, tieX, tieY } = syntheticEvents();
    const events = [...samples, ...histories];

    const reference = freshStore();
    for (const event of inOrder(events)) {
      expect(await projectChange(event, { store: reference })).toMatchObject({ status: 'projected' });
    }
    const expected = await view(reference, events);

    // Hand-checked facts of the in-order result.
    expect(expected.snapshots[`contact/${ROW_ID}`]).toEqual({
      table: 'contact',
      id: ROW_ID,
      deleted: true,
      attributes: {},
      formattedValues: {},
      updatedAt: '2017-09-27T00:00:00.000Z',
      lastEventId: deleteA.id,
      lastMessage: 'Delete',
    });
    const lastname = tieX.id > tieY.id ? 'Li' : 'Le'; // the tie rule: the greater event id wins
    expect(expected.snapshots[`contact/${CONTACT_B}`]).toEqual({
      table: 'contact',
      id: CONTACT_B,
      deleted: false,
      attributes: { firstname: 'Ann', lastname, statuscode: 1 }, // no telephone1: it was written before the Delete
      formattedValues: { statuscode: 'Active' },
      updatedAt: '2024-05-01T10:04:00.000Z',
      lastEventId: tieX.id > tieY.id ? tieX.id : tieY.id,
      lastMessage: 'Update',
    });
    expect(expected.snapshots['account/ec4e2f7d-9d60-e811-a95a-000d3af24950']).toMatchObject({ deleted: false });
    // Custom APIs are logged under "none" but keep no row.
    expect(expected.snapshots['none/00000000-0000-0000-0000-000000000000']).toBeUndefined();
    expect(expected.changes.none?.map((c) => c.message).sort()).toEqual([
      'devkit_DebugCustomAction',
      'devkit_DebugCustomApi',
    ]);
    expect(Object.values(expected.changes).flat()).toHaveLength(events.length);
    expect(expected.changes.contact?.map((c) => c.time)).toEqual(
      [...(expected.changes.contact ?? [])]
        .map((c) => c.time)
        .sort()
        .reverse(),
    );

    for (const seed of [1, 2, 3]) {
      const random = seededRandom(seed);
      const repeats = events.filter(() => random() < 0.5);
      const delivered = shuffled([...events, ...repeats, ...repeats.slice(0, 3)], random);
      const store = freshStore();
      // Groups at a time, like concurrent invocations of the function: same rows race for their snapshots.
      for (let i = 0; i < delivered.length; i += 6) {
        const outcomes = await Promise.all(delivered.slice(i, i + 6).map((event) => projectChange(event, { store })));
        for (const outcome of outcomes) expect(outcome.status).toBe('projected');
      }
      expect(await view(store, events)).toEqual(expected);
    }
  });

  it('twenty events for one row at once all land: the snapshot is the in-order one', async () => {
    const events = Array.from({ length: 20 }, (_, i) =>
      synthetic('Update', CONTACT_B, new Date(Date.UTC(2024, 4, 1, 10, 0, i)).toISOString(), {
        [`col${i % 5}`]: i,
        last: i,
      }),
    );
    const racing = freshStore();
    const outcomes = await Promise.all(events.map((event) => projectChange(event, { store: racing })));
    // An event whose columns newer events had already overwritten changes nothing: 'unchanged' is right for it.
    for (const outcome of outcomes)
      expect(outcome.status === 'projected' && outcome.row).toMatch(/^(updated|unchanged)$/);
    expect(outcomes.filter((o) => o.status === 'projected' && o.row === 'updated').length).toBeGreaterThan(0);
    expect(await racing.getRow('contact', CONTACT_B)).toMatchObject({
      deleted: false,
      attributes: { col0: 15, col1: 16, col2: 17, col3: 18, col4: 19, last: 19 },
      updatedAt: '2024-05-01T10:00:19.000Z',
      lastEventId: events[19]?.id,
    });
  });

  it('a redelivery leaves the row as it was and costs no write', async () => {
    const store = freshStore();
    const event = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { firstname: 'Ann' });
    expect(await projectChange(event, { store })).toMatchObject({ status: 'projected', row: 'updated', attempts: 1 });
    const before = await store.readRow('contact', CONTACT_B);
    expect(await projectChange(event, { store })).toMatchObject({ status: 'projected', row: 'unchanged' });
    expect((await store.readRow('contact', CONTACT_B))?.etag).toBe(before?.etag);
    expect(await allChanges(store, 'contact')).toHaveLength(1);
  });

  it('costs three round trips per event in the steady state (append, read, write), plus one per new table', async () => {
    const endpoint = /TableEndpoint=([^;]+)/.exec(azurite.connectionString)?.[1] as string;
    const proxy = await startCountingProxy(new URL(endpoint));
    try {
      const store = freshStore(azurite.connectionString.replace(endpoint, proxy.url));
      const first = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { firstname: 'Ann' });
      await projectChange(first, { store });
      const warm = proxy.count();
      await projectChange(synthetic('Update', CONTACT_B, '2024-05-01T10:01:00.000Z', { firstname: 'Anne' }), {
        store,
      });
      expect(proxy.count() - warm).toBe(3);
      const atSecond = proxy.count();
      await projectChange(synthetic('Update', ROW_ID, '2024-05-01T10:02:00.000Z', { firstname: 'Jo' }), { store });
      expect(proxy.count() - atSecond).toBe(3); // same table: no note; a new row: read (404) and insert
    } finally {
      await proxy.stop();
    }
  });
});

describe('projectChange: what is not retried and what is', () => {
  it('logs and ignores an event that is not ours, without throwing', async () => {
    const store = freshStore();
    const warnings: string[] = [];
    const outcome = await projectChange(
      { specversion: '1.0', id: 'blob-7', type: 'Microsoft.Storage.BlobCreated', source: '/x', data: {} },
      { store, log: { warn: (line: unknown) => warnings.push(String(line)) } },
    );
    expect(outcome).toMatchObject({ status: 'ignored', eventId: 'blob-7', code: 'UnprojectableEvent' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('blob-7');
    expect(warnings[0]).toContain('"dataverse."');
    expect(await store.listTables()).toEqual([]);
  });

  it('throws StorageUnavailableError (transient) when storage is down, so Event Grid redelivers', async () => {
    const down = TableClient.fromConnectionString(
      azurite.connectionString.replace(/TableEndpoint=[^;]+/, 'TableEndpoint=http://127.0.0.1:1/devstoreaccount1'),
      'downchanges',
      { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } },
    );
    const store = new TableChangeStore({ changes: down, rows: down, tables: down });
    const event = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { firstname: 'Ann' });
    await expect(projectChange(event, { store })).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('gives up on a row that keeps changing under it with a transient RowContentionError', async () => {
    const real = freshStore();
    // Fault injection: every conditional write loses the race.
    const losing: ChangeStore = Object.assign(Object.create(real) as TableChangeStore, {
      writeRow: async () => false,
    });
    const event = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { firstname: 'Ann' });
    const error = await projectChange(event, { store: losing, maxAttempts: 3 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RowContentionError);
    expect((error as RowContentionError).transient).toBe(true);
    expect((error as Error).message).toContain(`contact/${CONTACT_B}`);
    // The change itself was logged; the redelivery will complete the row.
    expect(await allChanges(real, 'contact')).toHaveLength(1);
    expect(await projectChange(event, { store: real })).toMatchObject({ row: 'updated' });
  });

  it('keeps the change but not the snapshot when the merged row would not fit one entity', async () => {
    const store = freshStore();
    const warnings: string[] = [];
    const log = { warn: (line: unknown) => warnings.push(String(line)) };
    const first = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { description: 'x'.repeat(250_000) });
    const second = synthetic('Update', CONTACT_B, '2024-05-01T10:01:00.000Z', { notes: 'y'.repeat(250_000) });
    expect(await projectChange(first, { store, log })).toMatchObject({ row: 'updated' });
    expect(await projectChange(second, { store, log })).toMatchObject({ status: 'projected', row: 'tooLarge' });
    expect(warnings.join('\n')).toContain(second.id);
    expect(await allChanges(store, 'contact')).toHaveLength(2);
    expect((await store.getRow('contact', CONTACT_B))?.lastEventId).toBe(first.id);
  });
});

describe('the projectChanges function, called the way the Event Grid trigger calls it', () => {
  it("projects into the app's own tables (the process-wide store) and logs through the invocation context", async () => {
    // The function file validates the settings when it loads, as under the Functions host.
    process.env.AzureWebJobsStorage = azurite.connectionString;
    process.env.DATAVERSE_QUEUE_NAME = 'dataverse';
    process.env.BRIDGE_STORAGE_PREFIX = `f${randomBytes(5).toString('hex')}`;
    const { projectChanges } = await import('../../functions/projectChanges.js');
    const { getChangeStore, setChangeStore } = await import('../../shared/runtime.js');
    try {
      const warnings: string[] = [];
      const context = new InvocationContext({
        functionName: 'projectChanges',
        logHandler: (level, ...args) => {
          if (level === 'warning') warnings.push(args.map(String).join(' '));
        },
      });
      const event = synthetic('Create', CONTACT_B, '2024-05-01T10:00:00.000Z', { firstname: 'Ann' });
      await projectChanges(event as never, context);
      await projectChanges({ id: 'x-1', eventType: 'Other.Thing', data: {} } as never, context);
      const store = await getChangeStore();
      expect(await getChangeStore()).toBe(store);
      expect(await store.getRow('contact', CONTACT_B)).toMatchObject({ attributes: { firstname: 'Ann' } });
      expect((await store.listTables()).map((t) => t.name)).toEqual(['contact']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('x-1');
    } finally {
      setChangeStore(undefined);
    }
  });
});
