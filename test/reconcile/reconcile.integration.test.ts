/**
 * Reconciliation against the Dataverse double, the real pipeline (Azurite, the Event Grid client and a local
 * receiver) and the real change store: Dataverse's posts are simulated for every write, some dropped on purpose
 * before ingest, and the projection is fed with what the receiver accepted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { projectChange } from '../../shared/changes/projectChanges.js';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { RECONCILIATION_USER_AGENT, rowAttributes } from '../../shared/reconcile/contexts.js';
import { type ReconcileDeps, reconcile } from '../../shared/reconcile/reconcile.js';
import { openStorage } from '../../shared/store/connect.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { TableReconcileStore } from '../../shared/store/tableReconcileStore.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { testAzurite } from '../helpers/azurite.js';
import { type PipelineHarness, queueMessage, startPipeline } from '../helpers/pipeline.js';

const azurite = testAzurite();
const TABLE = 'account';

interface World {
  dataverse: DataverseDouble;
  api: WebApiClient;
  pipeline: PipelineHarness;
  store: TableChangeStore;
  deps: ReconcileDeps;
  /** Advances the double's clock by a second (Dataverse keeps `modifiedon` to the second). */
  tick(): void;
  /** A Dataverse write followed by its post to the bridge, unless `drop`. */
  create(name: string, options?: { drop?: boolean }): Promise<string>;
  update(id: string, name: string, options?: { drop?: boolean }): Promise<void>;
  /** An update whose post carries only the columns set (and `modifiedon`), as an Update's Target does. */
  set(id: string, columns: Record<string, unknown>, options?: { drop?: boolean }): Promise<void>;
  remove(id: string, options?: { drop?: boolean }): Promise<void>;
  /** Projects every event the receiver accepted since the last call, as the projectChanges subscriber would. */
  project(): Promise<void>;
  /** Events the receiver accepted. */
  published(): Array<Record<string, unknown>>;
}

const worlds: World[] = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.pipeline.stop();
    await world.dataverse.stop();
  }
});

async function world(options: { pageSize?: number } = {}): Promise<World> {
  let clock = Date.parse('2026-03-01T10:00:00.000Z');
  const dataverse = new DataverseDouble({ now: () => new Date(clock) });
  dataverse.seedTable({
    logicalName: TABLE,
    changeTracking: true,
    columns: [
      { logicalName: 'name', type: 'String' },
      { logicalName: 'telephone1', type: 'String' },
      { logicalName: 'modifiedon', type: 'DateTime', validForCreate: false, validForUpdate: false },
    ],
  });
  dataverse.seedTable({ logicalName: 'contact', changeTracking: false, columns: [] });
  await dataverse.start();
  const transport = new DataverseTransport({
    url: dataverse.url,
    timeoutMs: 5_000,
    retryBudgetMs: 5_000,
    backoffBaseMs: 1,
    backoffCapMs: 5,
    maxAttempts: 3,
  });
  const api = new WebApiClient(transport);
  // The app's 30 s publish timeout, not the harness's 2 s: a run publishes up to 1,000 events at once, and on a busy
  // machine (CI's two cores running two suites) one large request could outlast 2 s with no retry.
  const pipeline = await startPipeline(azurite, { timeoutMs: 30_000 });
  const storage = openStorage({
    kind: 'connectionString',
    connectionString: azurite.connectionString,
    prefix: `r${randomBytes(5).toString('hex')}`,
  });
  const store = new TableChangeStore({
    changes: storage.table(storage.names.changes),
    rows: storage.table(storage.names.rows),
    tables: storage.table(storage.names.tables),
  });
  const state = new TableReconcileStore(storage.table(storage.names.reconcile));
  let projected = 0;
  const project = async () => {
    const events = pipeline.receiver.events.slice(projected);
    projected += events.length;
    for (const event of events) await projectChange(JSON.parse(JSON.stringify(event)), { store });
  };
  /** What Dataverse posts for a write: the row as the Target, dated within the second of its `modifiedon`. */
  const post = async (message: string, id: string, drop: boolean | undefined, only?: string[]) => {
    if (drop) return;
    const whole = dataverse.row(TABLE, id);
    const row = whole && only ? Object.fromEntries(Object.entries(whole).filter(([key]) => only.includes(key))) : whole;
    const at = message === 'Delete' ? clock : Date.parse(String(whole?.modifiedon));
    const context = {
      MessageName: message,
      PrimaryEntityName: TABLE,
      PrimaryEntityId: id,
      OrganizationId: dataverse.organizationId,
      OperationId: randomUUID(),
      OperationCreatedOn: new Date(at + 400).toISOString(),
      Stage: 40,
      Mode: 1,
      Depth: 1,
      InputParameters: [
        {
          key: 'Target',
          value:
            message === 'Delete'
              ? {
                  __type: 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts',
                  Id: id,
                  LogicalName: TABLE,
                }
              : {
                  __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
                  Id: id,
                  LogicalName: TABLE,
                  Attributes: Object.entries(rowAttributes(row ?? {})).map(([key, value]) => ({ key, value })),
                },
        },
      ],
    };
    const { outcomes } = await (await import('../../shared/pipeline/ingest.js')).ingest(
      [queueMessage(Buffer.from(JSON.stringify(context)))],
      pipeline.deps,
    );
    expect(outcomes[0]?.status).toBe('published');
    await project();
  };
  const created: World = {
    dataverse,
    api,
    pipeline,
    store,
    deps: {
      api,
      snapshots: store,
      ingest: pipeline.deps,
      state,
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    },
    tick: () => {
      clock += 1_000;
    },
    async create(name, { drop } = {}) {
      created.tick();
      const { id } = await api.create(TABLE, { name });
      await post('Create', id, drop);
      return id;
    },
    async update(id, name, { drop } = {}) {
      created.tick();
      await api.update(TABLE, id, { name });
      await post('Update', id, drop);
    },
    async set(id, columns, { drop } = {}) {
      created.tick();
      await api.update(TABLE, id, columns);
      await post('Update', id, drop, [...Object.keys(columns), 'modifiedon']);
    },
    async remove(id, { drop } = {}) {
      created.tick();
      await api.delete(TABLE, id);
      await post('Delete', id, drop);
    },
    project,
    published: () => pipeline.receiver.events as Array<Record<string, unknown>>,
  };
  worlds.push(created);
  return created;
}

/** Every row of the double matches its snapshot, and every deleted row is a tombstone. */
async function expectConverged(w: World, ids: { live: string[]; deleted: string[] }): Promise<void> {
  for (const id of ids.live) {
    const row = w.dataverse.row(TABLE, id);
    const snapshot = await w.store.getRow(TABLE, id);
    expect(snapshot?.deleted, id).toBe(false);
    expect(snapshot?.attributes, id).toMatchObject({ name: row?.name, modifiedon: row?.modifiedon });
  }
  for (const id of ids.deleted) expect((await w.store.getRow(TABLE, id))?.deleted, id).toBe(true);
}

function reconciliationEvents(w: World) {
  return w.published().filter((e) => e.bridgeorigin === 'reconciliation');
}

describe('reconcile', () => {
  it('publishes exactly the dropped creates, updates and deletes, marked as reconciliation; a second run publishes nothing', async () => {
    const w = await world();
    // A first run while the bridge is in step: a full pass that finds nothing.
    const a = await w.create('A');
    const b = await w.create('B');
    const c = await w.create('C');
    const first = await reconcile([TABLE], w.deps);
    expect(first).toMatchObject({ status: 'succeeded', rowsChecked: 3, gapsFound: 0, gapsRepaired: 0 });
    expect(first.tables[0]).toMatchObject({ pass: 'full', reason: 'first run', deltaLinkSaved: true });
    expect(reconciliationEvents(w)).toEqual([]);

    // Then posts are lost: a create, an update and a delete; other writes arrive.
    const d = await w.create('D', { drop: true });
    await w.update(a, 'A2', { drop: true });
    await w.update(b, 'B2');
    await w.remove(c, { drop: true });
    const e = await w.create('E');

    const second = await reconcile([TABLE], w.deps);
    expect(second.tables[0]).toMatchObject({ pass: 'delta', rowsChecked: 5, gapsFound: 3, gapsRepaired: 3 });
    const repaired = reconciliationEvents(w);
    expect(repaired.map((event) => [event.type, event.subject]).sort()).toEqual(
      [
        ['dataverse.create', `${TABLE}/${d}`],
        ['dataverse.delete', `${TABLE}/${c}`],
        ['dataverse.update', `${TABLE}/${a}`],
      ].sort(),
    );
    for (const event of repaired) {
      expect((event.data as { initiatingUserAgent: string }).initiatingUserAgent).toBe(RECONCILIATION_USER_AGENT);
      expect(event.source).toBe(`/organizations/${w.dataverse.organizationId}`);
    }
    const jobs = await Promise.all(
      repaired.map(async (event) => (await w.pipeline.jobs.list({ top: 50 })).jobs.find((j) => j.eventId === event.id)),
    );
    expect(jobs.map((job) => job?.source)).toEqual(['reconciliation', 'reconciliation', 'reconciliation']);

    await w.project();
    await expectConverged(w, { live: [a, b, d, e], deleted: [c] });

    expect(w.pipeline.receiver.violations).toEqual([]);
    const before = w.published().length;
    const third = await reconcile([TABLE], w.deps);
    expect(third).toMatchObject({ status: 'succeeded', gapsFound: 0, gapsRepaired: 0 });
    expect(w.published().length).toBe(before);
    expect(await w.deps.state.lastRun()).toEqual(third);
  });

  it('repairs a column an earlier, lost change set, when a later change of other columns reached the bridge', async () => {
    const w = await world();
    const a = await w.create('A');
    await w.set(a, { telephone1: '555-0100' });
    const first = await reconcile([TABLE], w.deps);
    expect(first).toMatchObject({ status: 'succeeded', gapsFound: 0 });

    // The phone number change is lost; the rename after it arrives, carrying only name and modifiedon. By time the
    // snapshot is as new as the row, but it still holds the old number.
    await w.set(a, { telephone1: '555-0199' }, { drop: true });
    await w.set(a, { name: 'A2' });
    expect((await w.store.getRow(TABLE, a))?.attributes).toMatchObject({ name: 'A2', telephone1: '555-0100' });

    const second = await reconcile([TABLE], w.deps);
    expect(second.tables[0]).toMatchObject({ rowsChecked: 1, gapsFound: 1, gapsRepaired: 1 });
    expect(reconciliationEvents(w).map((event) => [event.type, event.subject])).toEqual([
      ['dataverse.update', `${TABLE}/${a}`],
    ]);
    await w.project();
    expect((await w.store.getRow(TABLE, a))?.attributes).toMatchObject({ name: 'A2', telephone1: '555-0199' });

    // In step again: nothing more to publish.
    const before = w.published().length;
    expect(await reconcile([TABLE], w.deps)).toMatchObject({ status: 'succeeded', gapsFound: 0 });
    expect(w.published().length).toBe(before);
  });

  it('starts a full pass when the delta token has expired, and repairs what it finds', async () => {
    const w = await world();
    const a = await w.create('A');
    await reconcile([TABLE], w.deps);
    await w.update(a, 'A2', { drop: true });
    w.dataverse.expireDeltaTokens();

    const run = await reconcile([TABLE], w.deps);
    expect(run.tables[0]).toMatchObject({ pass: 'full', reason: 'delta token expired', gapsFound: 1, gapsRepaired: 1 });
    expect(w.dataverse.requests.some((r) => r.kind === 'changes' && r.status === 400)).toBe(true);
    await w.project();
    await expectConverged(w, { live: [a], deleted: [] });
  });

  it('pages a full pass', async () => {
    const w = await world({ pageSize: 2 });
    const ids = [];
    for (const name of ['A', 'B', 'C', 'D', 'E']) ids.push(await w.create(name, { drop: true }));
    const run = await reconcile([TABLE], w.deps);
    expect(run.tables[0]).toMatchObject({ pass: 'full', rowsChecked: 5, gapsFound: 5, gapsRepaired: 5 });
    // The first page holds two rows; the rest follows the next link.
    expect(w.dataverse.requests.filter((r) => r.kind === 'changes').length).toBeGreaterThan(1);
    await w.project();
    await expectConverged(w, { live: ids, deleted: [] });
  });

  it('survives throttling and 503s mid-run: the failed run resumes from its saved delta link without duplicates', async () => {
    const w = await world();
    const a = await w.create('A');
    await reconcile([TABLE], w.deps);
    const b = await w.create('B', { drop: true });
    await w.update(a, 'A2', { drop: true });

    // Within the client's retries: the run succeeds.
    w.dataverse.inject({ kind: 'throttle', retryAfterSeconds: 0 }, { match: (r) => r.kind === 'changes' });
    w.dataverse.inject({ kind: 'status', status: 503 }, { match: (r) => r.kind === 'changes' });
    const throttled = await reconcile([TABLE], w.deps);
    expect(throttled).toMatchObject({ status: 'succeeded', gapsFound: 2, gapsRepaired: 2 });

    // Past them: the run fails, its delta link is kept, and the next run resumes from it.
    const c = await w.create('C', { drop: true });
    await w.project();
    const published = w.published().length;
    w.dataverse.inject({ kind: 'status', status: 503 }, { times: 3, match: (r) => r.kind === 'changes' });
    const failed = await reconcile([TABLE], w.deps);
    expect(failed.status).toBe('failed');
    expect(failed.tables[0]).toMatchObject({ deltaLinkSaved: false, gapsFound: 0 });
    expect(failed.errors[0]).toMatchObject({ table: TABLE, code: expect.any(String) });
    expect(w.published().length).toBe(published);

    const resumed = await reconcile([TABLE], w.deps);
    expect(resumed).toMatchObject({ status: 'succeeded', gapsFound: 1, gapsRepaired: 1 });
    expect(resumed.tables[0]?.pass).toBe('delta');
    const ids = w.published().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    await w.project();
    await expectConverged(w, { live: [a, b, c], deleted: [] });
  });

  it('a failed publish keeps the delta link; the next run publishes the gap once', async () => {
    const w = await world();
    await reconcile([TABLE], w.deps);
    const a = await w.create('A', { drop: true });
    w.pipeline.receiver.setFault(() => 500);
    const failed = await reconcile([TABLE], w.deps);
    expect(failed.tables[0]).toMatchObject({ gapsFound: 1, gapsRepaired: 0, deltaLinkSaved: false });
    expect(failed.errors[0]?.code).toBe('GapsNotPublished');
    w.pipeline.receiver.setFault(() => 'ok');
    const resumed = await reconcile([TABLE], w.deps);
    expect(resumed.tables[0]).toMatchObject({ gapsFound: 1, gapsRepaired: 1, deltaLinkSaved: true });
    expect(reconciliationEvents(w)).toHaveLength(1);
    await w.project();
    await expectConverged(w, { live: [a], deleted: [] });
  });

  it('two runs at once publish each gap once', async () => {
    const w = await world();
    const a = await w.create('A');
    await reconcile([TABLE], w.deps);
    const dropped = [await w.create('B', { drop: true }), await w.create('C', { drop: true })];
    await w.update(a, 'A2', { drop: true });
    await w.remove(dropped[1] as string, { drop: true });

    const runs = await Promise.all([reconcile([TABLE], w.deps), reconcile([TABLE], w.deps)]);
    expect(runs.map((r) => r.gapsFound)).toEqual([2, 2]);
    const events = reconciliationEvents(w);
    expect(events.map((e) => e.subject).sort()).toEqual([`${TABLE}/${a}`, `${TABLE}/${dropped[0]}`].sort());
    // A run that met the other's job in flight keeps its delta link; a run after both publishes nothing new.
    const after = await reconcile([TABLE], w.deps);
    expect(after.gapsRepaired).toBe(after.gapsFound);
    expect(reconciliationEvents(w)).toHaveLength(2);
  });

  it('names a table without change tracking, or unknown, as a configuration error; other tables still run', async () => {
    const w = await world();
    await w.create('A', { drop: true });
    const run = await reconcile(['contact', 'nosuchtable', TABLE], w.deps);
    expect(run.status).toBe('failed');
    expect(run.errors).toEqual([
      expect.objectContaining({
        table: 'contact',
        code: 'ReconcileConfiguration',
        message: expect.stringContaining('"contact"'),
      }),
      expect.objectContaining({
        table: 'nosuchtable',
        code: 'ReconcileConfiguration',
        message: expect.stringContaining('"nosuchtable"'),
      }),
    ]);
    expect(run.errors[0]?.message).toContain('change tracking is off');
    expect(run.tables[2]).toMatchObject({ table: TABLE, gapsRepaired: 1 });
  });

  it('costs one change-tracking request per 5,000 rows checked, plus WhoAmI and the (cached) table definition', async () => {
    const w = await world();
    w.dataverse.seedRows(
      TABLE,
      Array.from({ length: 1_000 }, (_, i) => ({ name: `Row ${i}` })),
    );
    const kinds = (from: number) => {
      const counted: Record<string, number> = {};
      for (const r of w.dataverse.requests.slice(from)) counted[r.kind] = (counted[r.kind] ?? 0) + 1;
      return counted;
    };
    const before = w.dataverse.count();
    const full = await reconcile([TABLE], w.deps);
    expect(full.tables[0]).toMatchObject({ pass: 'full', rowsChecked: 1_000, gapsFound: 1_000, gapsRepaired: 1_000 });
    const fullKinds = kinds(before);
    // The table definition is read once per process (the client caches it), WhoAmI once per run with gaps.
    expect(fullKinds).toEqual({ metadata: fullKinds.metadata, whoAmI: 1, changes: 1 });

    for (let i = 0; i < 1_000; i++) w.dataverse.seedRows(TABLE, [{ name: `More ${i}` }]);
    const mid = w.dataverse.count();
    const delta = await reconcile([TABLE], w.deps);
    expect(delta.tables[0]).toMatchObject({ pass: 'delta', rowsChecked: 1_000, gapsRepaired: 1_000 });
    expect(kinds(mid)).toEqual({ whoAmI: 1, changes: 1 });
    console.log(
      `reconciliation cost per 1,000 rows checked: full pass on a cold process ${w.dataverse.count() - before - 2} requests (${fullKinds.metadata} of them the table definition), delta pass 2 requests`,
    );
  }, 120_000);
});
