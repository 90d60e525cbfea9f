import type { ColumnSeed, ColumnType, DataverseDouble, TableSeed } from '../doubles/dataverse.js';

/**
 * The soak's rows, kept the way Dataverse keeps them. With reconciliation or Dataverse faults on, every context the
 * senders produce (dropped on its way or not) is a change Dataverse made to a row: {@link RowBook.shape} makes the
 * context consistent with that row (its id, `modifiedon` at the context's time, a post image with every column the
 * row has after the change; a share of them turned into Deletes), and {@link RowBook.apply} writes the same changes,
 * in time order, to the Dataverse double, which keeps them for change tracking. At the end, every row's snapshot in
 * the bridge must equal the double's row ({@link rowDifferences}).
 */

const ENTITY = 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts';
const REFERENCE = 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts';
const LOOKUP_TABLE = '@Microsoft.Dynamics.CRM.lookuplogicalname';

type Raw = Record<string, unknown>;
type KeyValue = { key: string; value: unknown };

/** One change to one row, in the order Dataverse made them. */
export interface RowWrite {
  table: string;
  id: string;
  /** Milliseconds since the epoch: the context's `OperationCreatedOn`, which becomes the row's `modifiedon`. */
  time: number;
  /** The row's columns after the change, as DataContract values (what a post image carries); `undefined`: deleted. */
  row: Raw | undefined;
  /** The OperationId of the context that carries the change. */
  operationId: string;
}

/** The rows the soak's contexts change, the changes in order, and the tables and columns they need. */
export class RowBook {
  readonly writes: RowWrite[] = [];
  private readonly rows = new Map<string, Raw | undefined>();
  private readonly columns = new Map<string, Map<string, ColumnSeed>>();
  private readonly primaryIds = new Map<string, string>();

  /**
   * @param random decides which changes are Deletes (seeded).
   * @param deleteShare share of the changes to a row that exists which are Deletes.
   */
  constructor(
    private readonly random: () => number,
    private readonly deleteShare = 0.1,
  ) {}

  /** The tables changed (every one but `none`: custom APIs and actions change no row). */
  get tables(): string[] {
    return [...this.columns.keys()].sort();
  }

  /** Every row changed, as `table/id`. */
  get rowKeys(): string[] {
    return [...this.rows.keys()];
  }

  /**
   * The context made consistent with the row it changes. `sample` is the reference context it was built from (whose
   * own row id is replaced by the soak's); contexts that change no row (no Target entity, table `none`) are returned
   * as they are. Call in time order.
   */
  shape(context: Raw, sample: Raw): Raw {
    const table = String(context.PrimaryEntityName ?? 'none');
    const inputs = (context.InputParameters as KeyValue[] | undefined) ?? [];
    const target = inputs.find((p) => p.key === 'Target')?.value as Raw | undefined;
    if (table === 'none' || !String(target?.__type ?? '').startsWith('Entity:')) return context;
    const id = String(context.PrimaryEntityId).toLowerCase();
    const time = dateMs(String(context.OperationCreatedOn));
    const key = `${table}/${id}`;
    const before = this.rows.get(key);
    this.tableColumns(table);

    if (before !== undefined && this.random() < this.deleteShare) {
      this.rows.set(key, undefined);
      this.writes.push({ table, id, time, row: undefined, operationId: String(context.OperationId) });
      return {
        ...context,
        MessageName: 'Delete',
        InputParameters: [
          {
            key: 'Target',
            value: { __type: REFERENCE, Id: id, KeyAttributes: [], LogicalName: table, Name: null, RowVersion: null },
          },
        ],
        PreEntityImages: [{ key: 'PreImage', value: entity(table, id, before) }],
        PostEntityImages: [],
      };
    }

    const originalId = String(sample.PrimaryEntityId).toLowerCase();
    const attributes: KeyValue[] = ((target as Raw).Attributes as KeyValue[]).map(({ key: column, value }) => {
      if (column === 'modifiedon') return { key: column, value: `/Date(${time})/` };
      if (typeof value === 'string' && value.toLowerCase() === originalId) {
        this.primaryIds.set(table, this.primaryIds.get(table) ?? column);
        return { key: column, value: id };
      }
      const wrapped = value as { __type?: string; __value?: unknown } | null;
      if (wrapped?.__type === 'Guid:#System' && String(wrapped.__value).toLowerCase() === originalId) {
        this.primaryIds.set(table, this.primaryIds.get(table) ?? column);
        return { key: column, value: { ...wrapped, __value: id } };
      }
      return { key: column, value };
    });
    const primaryId = this.primaryId(table);
    const after: Raw = { ...(before ?? {}) };
    for (const { key: column, value } of attributes) after[column] = value;
    after[primaryId] = id;
    after.modifiedon = `/Date(${time})/`;
    for (const [column, value] of Object.entries(after)) this.note(table, column, value);
    this.rows.set(key, after);
    this.writes.push({ table, id, time, row: after, operationId: String(context.OperationId) });
    return {
      ...context,
      InputParameters: inputs.map((p) =>
        p.key === 'Target' ? { key: 'Target', value: { ...(target as Raw), Id: id, Attributes: attributes } } : p,
      ),
      PreEntityImages: before === undefined ? [] : [{ key: 'PreImage', value: entity(table, id, before) }],
      // Every column the row has after the change, as a step registered with an all-columns post image sends.
      PostEntityImages: [{ key: 'PostImage', value: entity(table, id, after) }],
    };
  }

  /** The double's tables: every column the contexts carry, change tracking on. */
  tableSeeds(): TableSeed[] {
    return this.tables.map((table) => ({
      logicalName: table,
      primaryIdAttribute: this.primaryId(table),
      changeTracking: true,
      columns: [...(this.columns.get(table) as Map<string, ColumnSeed>).values()].filter(
        (c) => c.logicalName !== this.primaryId(table),
      ),
    }));
  }

  /**
   * Writes every change to the double, in time order, as Dataverse made them: `modifiedon` is the change's time (the
   * double's clock is `clock`, which this sets), a Delete leaves the tombstone change tracking reports.
   */
  apply(dataverse: DataverseDouble, clock: { now: Date }): void {
    for (const write of this.writes) {
      clock.now = new Date(write.time);
      if (write.row === undefined) dataverse.deleteRow(write.table, write.id);
      else dataverse.seedRows(write.table, [webApiRow(write.row)]);
    }
  }

  /**
   * The rows reconciliation has to repair when the contexts with these OperationIds never reached the bridge: those
   * whose newest change was lost, except a row deleted without the bridge ever seeing it (nothing to repair).
   */
  rowsToRepair(dropped: ReadonlySet<string>): string[] {
    const byRow = new Map<string, RowWrite[]>();
    for (const write of this.writes) {
      const key = `${write.table}/${write.id}`;
      byRow.set(key, [...(byRow.get(key) ?? []), write]);
    }
    return [...byRow]
      .filter(([, writes]) => {
        const last = writes.at(-1) as RowWrite;
        if (!dropped.has(last.operationId)) return false;
        return last.row !== undefined || writes.some((w) => !dropped.has(w.operationId));
      })
      .map(([key]) => key);
  }

  private primaryId(table: string): string {
    return this.primaryIds.get(table) ?? `${table}id`;
  }

  private tableColumns(table: string): Map<string, ColumnSeed> {
    let columns = this.columns.get(table);
    if (!columns) {
      columns = new Map([['modifiedon', { logicalName: 'modifiedon', type: 'DateTime' }]]);
      this.columns.set(table, columns);
    }
    return columns;
  }

  private note(table: string, column: string, value: unknown): void {
    const columns = this.tableColumns(table);
    const known = columns.get(column);
    const seed = columnSeed(column, value);
    if (!known || (known.type === 'String' && value !== null && seed.type !== 'String')) columns.set(column, seed);
    else if (seed.targets && known.targets) known.targets = [...new Set([...known.targets, ...seed.targets])];
  }
}

/** An Entity in DataContract JSON with these columns. */
function entity(table: string, id: string, row: Raw): Raw {
  return {
    __type: ENTITY,
    Attributes: Object.entries(row).map(([key, value]) => ({ key, value })),
    EntityState: null,
    FormattedValues: [],
    Id: id,
    KeyAttributes: [],
    LogicalName: table,
    RelatedEntities: [],
    RowVersion: null,
  };
}

/** The column a DataContract value belongs to, as the double's metadata describes it. */
function columnSeed(logicalName: string, value: unknown): ColumnSeed {
  const type = String((value as { __type?: unknown } | null)?.__type ?? '');
  const choice = (t: ColumnType): ColumnSeed => ({ logicalName, type: t, options: [] });
  if (type.startsWith('EntityReference:'))
    return { logicalName, type: 'Lookup', targets: [String((value as Raw).LogicalName)] };
  if (type.startsWith('OptionSetValue:'))
    return choice(logicalName === 'statecode' ? 'State' : logicalName === 'statuscode' ? 'Status' : 'Picklist');
  if (type.startsWith('Money:')) return { logicalName, type: 'Money' };
  if (type === 'Guid:#System') return { logicalName, type: 'Uniqueidentifier' };
  if (type === 'DateTime:#System' || (typeof value === 'string' && /^\/Date\(/.test(value)))
    return { logicalName, type: 'DateTime' };
  if (Array.isArray(value)) return { ...choice('Virtual'), multiSelect: true };
  if (typeof value === 'boolean') return { logicalName, type: 'Boolean' };
  if (typeof value === 'number') return { logicalName, type: Number.isInteger(value) ? 'Integer' : 'Decimal' };
  return { logicalName, type: 'String' };
}

/**
 * A row of DataContract values as the Web API holds it ("Web API property types" and "Lookup properties" on Learn):
 * a lookup as `_<column>_value` (the related row's id), a choice or money as its number, a multi-select choice as
 * comma-separated numbers, a date-time to the second.
 */
export function webApiRow(row: Raw): Raw {
  const out: Raw = {};
  for (const [column, value] of Object.entries(row)) {
    const type = String((value as { __type?: unknown } | null)?.__type ?? '');
    if (type.startsWith('EntityReference:')) {
      const reference = value as Raw;
      out[`_${column}_value`] = String(reference.Id).toLowerCase();
      out[`_${column}_value${LOOKUP_TABLE}`] = reference.LogicalName;
    } else out[column] = webApiValue(value);
  }
  return out;
}

function webApiValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => (v as Raw).Value).join(',');
  if (typeof value === 'object') {
    const wrapped = value as Raw;
    if ('Value' in wrapped) return wrapped.Value;
    if ('__value' in wrapped) return webApiValue(wrapped.__value);
    return value;
  }
  if (typeof value === 'string' && /^\/Date\(/.test(value)) {
    return new Date(Math.floor(dateMs(value) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }
  return value;
}

function dateMs(text: string): number {
  const match = /^\/Date\((-?\d+)/.exec(text);
  return match ? Number(match[1]) : Date.parse(text);
}

/** A row snapshot as `GET /api/tables/{table}/rows/{id}` answers it. */
export interface SnapshotBody {
  deleted: boolean;
  attributes: Record<string, unknown>;
}

/**
 * How the bridge's snapshot of a row differs from the double's row (empty when they converged). A deleted row (or
 * none) must be a tombstone or unknown; a row must have every column the double has, with the same value, compared
 * across the forms the two sides write it in: a lookup by the related row's id (the snapshot holds
 * `{ logicalName, id, name }` from a context, the id from reconciliation), date-times to the second, a multi-select
 * choice as its numbers. A column the snapshot has that the row lacks must be null.
 */
export function rowDifferences(row: Raw | undefined, snapshot: SnapshotBody | undefined): string[] {
  if (row === undefined) {
    return snapshot === undefined || snapshot.deleted ? [] : ['the row is deleted; the snapshot is not a tombstone'];
  }
  if (snapshot === undefined) return ['the bridge has no snapshot of the row'];
  if (snapshot.deleted) return ['the snapshot is a tombstone; the row exists'];
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(row)) {
    if (name.includes('@')) continue;
    const column = /^_(.+)_value$/.exec(name)?.[1] ?? name;
    seen.add(column);
    const expected = comparable(value);
    const actual = comparable(snapshot.attributes[column]);
    if (expected !== actual) differences.push(`${column}: ${actual} in the bridge, ${expected} in Dataverse`);
  }
  for (const [column, value] of Object.entries(snapshot.attributes)) {
    if (!seen.has(column) && comparable(value) !== 'null')
      differences.push(`${column}: ${comparable(value)} in the bridge, not in Dataverse`);
  }
  return differences;
}

function comparable(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'object') {
    const id = (value as { id?: unknown }).id;
    return id === undefined ? JSON.stringify(value) : String(id).toLowerCase();
  }
  if (typeof value === 'string') {
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) {
      return new Date(Math.floor(Date.parse(value) / 1000) * 1000).toISOString();
    }
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return value.toLowerCase();
    // A multi-select choice: the Web API's "1,2" against a context's [1, 2].
    if (/^-?\d+(,-?\d+)+$/.test(value)) return value;
  }
  return JSON.stringify(value);
}
