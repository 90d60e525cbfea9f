import { describe, expect, it } from 'vitest';
import { DataverseDouble } from '../doubles/dataverse.js';
import { seededRandom } from '../helpers/pipeline.js';
import { RowBook, rowDifferences } from './rows.js';
import { buildItems } from './workload.js';

type Raw = Record<string, unknown>;
type KeyValue = { key: string; value: unknown };

/** The soak's workload with the rows kept in the double, as `runSoak` builds it when reconciliation is on. */
function workload(count: number, deleteShare = 0.2) {
  const book = new RowBook(seededRandom(11), deleteShare);
  const items = buildItems({
    count,
    bad: 0,
    webhookShare: 0.5,
    random: seededRandom(3),
    seed: 3,
    shape: book.shape.bind(book),
  });
  const clock = { now: new Date() };
  const dataverse = new DataverseDouble({ now: () => clock.now });
  for (const table of book.tableSeeds()) dataverse.seedTable(table);
  book.apply(dataverse, clock);
  const contexts = items.map((item) => JSON.parse(item.body.toString('utf8')) as Raw);
  return { book, dataverse, contexts };
}

const attributes = (entity: unknown) =>
  Object.fromEntries(((entity as Raw).Attributes as KeyValue[]).map(({ key, value }) => [key, value]));
const target = (context: Raw) => (context.InputParameters as KeyValue[]).find((p) => p.key === 'Target')?.value as Raw;

describe('the soak rows: contexts consistent with the Dataverse double', () => {
  const { book, dataverse, contexts } = workload(96);

  it('writes each row the contexts change to the double, with modifiedon at its last context', () => {
    // Every table of the reference samples that changes a row, not the custom APIs and actions (table none).
    expect(book.tables).toEqual([
      'account',
      'albxrm_alltypes',
      'contact',
      'msdyn_agentstatus',
      'new_customactivity',
      'sharepointdocumentlocation',
      'shko_allfields',
    ]);
    const last = new Map<string, Raw>();
    for (const context of contexts) {
      if (context.PrimaryEntityName === 'none') continue;
      last.set(`${context.PrimaryEntityName}/${context.PrimaryEntityId}`, context);
    }
    expect([...last.keys()].sort()).toEqual([...book.rowKeys].sort());
    for (const [key, context] of last) {
      const [table, id] = key.split('/') as [string, string];
      const row = dataverse.row(table, id);
      if (context.MessageName === 'Delete') {
        expect(row).toBeUndefined();
        continue;
      }
      const ms = Number(/\((\d+)\)/.exec(String(context.OperationCreatedOn))?.[1]);
      expect(row?.modifiedon).toBe(new Date(ms).toISOString().replace('.000Z', 'Z'));
      // The post image carries every column the double's row has (lookups under their column's name).
      const image = attributes((context.PostEntityImages as KeyValue[])[0]?.value);
      const columns = Object.keys(row as Raw)
        .filter((name) => !name.includes('@'))
        .map((name) => /^_(.+)_value$/.exec(name)?.[1] ?? name);
      expect(Object.keys(image).sort()).toEqual(columns.sort());
    }
  });

  it("gives the context the row's id and modifiedon, and keeps the sample's values", () => {
    // The first context is the first reference sample: albxrm-create-albxrm_alltypes.json.
    const context = contexts[0] as Raw;
    const id = String(context.PrimaryEntityId);
    const values = attributes(target(context));
    expect(target(context).Id).toBe(id);
    expect(values.albxrm_alltypesid).toBe(id);
    expect(values.modifiedon).toBe('/Date(1767225600000)/');
    // The sample's values, written by hand from the file, and how the Web API holds them in the double.
    expect(values.albxrm_name).toBe('Test Betim');
    expect(dataverse.row('albxrm_alltypes', id)).toMatchObject({
      albxrm_alltypesid: id,
      albxrm_name: 'Test Betim',
      albxrm_multiselectoptionset: '257760001,257760002',
      albxrm_twooptions: true,
      // The row's last change: context 72 (24 rows, 12 samples), the same sample 72 s later.
      modifiedon: '2026-01-01T00:01:12Z',
    });
  });

  it('turns a share of the changes to existing rows into Deletes of the row', () => {
    const deletes = contexts.filter((c) => c.MessageName === 'Delete');
    expect(deletes.length).toBeGreaterThan(0);
    for (const context of deletes) {
      expect(target(context)).toMatchObject({ Id: context.PrimaryEntityId, LogicalName: context.PrimaryEntityName });
      expect(context.PostEntityImages).toEqual([]);
    }
  });
});

describe('rowDifferences', () => {
  const row = {
    accountid: '0b6e0000-0000-0000-0000-000000000001',
    name: 'Contoso',
    _parentaccountid_value: '0b6e0000-0000-0000-0000-0000000000aa',
    '_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
    modifiedon: '2026-01-01T00:00:05Z',
    choices: '1,2',
    fax: null,
  };

  it("accepts a snapshot built from contexts, and one built from reconciliation's row", () => {
    const fromContexts = {
      accountid: '0B6E0000-0000-0000-0000-000000000001',
      name: 'Contoso',
      parentaccountid: { logicalName: 'account', id: '0b6e0000-0000-0000-0000-0000000000aa', name: 'Parent' },
      modifiedon: '2026-01-01T00:00:05.000Z',
      choices: [1, 2],
    };
    expect(rowDifferences(row, { deleted: false, attributes: fromContexts })).toEqual([]);
    const fromReconciliation = {
      ...fromContexts,
      parentaccountid: '0b6e0000-0000-0000-0000-0000000000aa',
      modifiedon: '2026-01-01T00:00:05Z',
      choices: '1,2',
      fax: null,
      telephone1: null,
    };
    expect(rowDifferences(row, { deleted: false, attributes: fromReconciliation })).toEqual([]);
  });

  it('names every column that differs, and a missing or deleted row', () => {
    const stale = {
      accountid: row.accountid,
      name: 'Fabrikam',
      parentaccountid: { id: '0b6e0000-0000-0000-0000-0000000000bb' },
      modifiedon: '2026-01-01T00:00:04.000Z',
      choices: [1],
      telephone1: '555',
    };
    expect(rowDifferences(row, { deleted: false, attributes: stale })).toEqual([
      'name: "Fabrikam" in the bridge, "Contoso" in Dataverse',
      'parentaccountid: 0b6e0000-0000-0000-0000-0000000000bb in the bridge, 0b6e0000-0000-0000-0000-0000000000aa in Dataverse',
      'modifiedon: 2026-01-01T00:00:04.000Z in the bridge, 2026-01-01T00:00:05.000Z in Dataverse',
      'choices: 1 in the bridge, 1,2 in Dataverse',
      'telephone1: "555" in the bridge, not in Dataverse',
    ]);
    expect(rowDifferences(row, undefined)).toEqual(['the bridge has no snapshot of the row']);
    expect(rowDifferences(row, { deleted: true, attributes: {} })).toEqual([
      'the snapshot is a tombstone; the row exists',
    ]);
    expect(rowDifferences(undefined, { deleted: false, attributes: {} })).toEqual([
      'the row is deleted; the snapshot is not a tombstone',
    ]);
    expect(rowDifferences(undefined, { deleted: true, attributes: {} })).toEqual([]);
    expect(rowDifferences(undefined, undefined)).toEqual([]);
  });
});
