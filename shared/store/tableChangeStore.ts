import type { TableClient, TableEntityResultPage } from '@azure/data-tables';
import { ChangeStoreBase } from '../changes/changeStore.js';
import { RowTooLargeError } from '../changes/errors.js';
import type { RowState } from '../changes/rowState.js';
import { canonicalRowId } from '../changes/toChange.js';
import type { ChangePage, ChangeQuery, ChangeRecord, ChangeStore, StoredRow, TableInfo } from '../changes/types.js';
import { checkContinuation, statusOf, toStorageError } from './errors.js';

/**
 * A change-log entry as stored. `attributesTruncated` is set (and `attributes` empty) when the event's column values
 * were too large for one Table entity.
 */
export type StoredChange = ChangeRecord & { attributesTruncated?: true };

/** Where {@link TableChangeStore} keeps things: each a client, or a function yielding one (see `openStorage`). */
export interface ChangeTables {
  /** The change log: partition = table, one entity per event. */
  changes: TableClient | (() => Promise<TableClient>);
  /** The row snapshots: partition = table, row key = row id. */
  rows: TableClient | (() => Promise<TableClient>);
  /** The tables seen. */
  tables: TableClient | (() => Promise<TableClient>);
}

const DEFAULT_TOP = 50;
const MAX_TOP = 1000;
/** A string property holds 32K UTF-16 code units; chunks stay clear of that. */
const CHUNK_CHARS = 30_000;
/** Strings are stored as UTF-16: 450,000 characters are 900 KB, under the 1 MiB entity limit with room to spare. */
const MAX_JSON_CHARS = 450_000;
/** The largest instant a JavaScript Date holds, in ms: times are inverted against it for newest-first keys. */
const MAX_TIME_MS = 8_640_000_000_000_000;
/** Inverted times span 0…2×MAX_TIME_MS, which is 17 digits. */
const TIME_DIGITS = 17;
const TABLES_PARTITION = 'tables';
/** How long a table noted by this process is not noted again: `lastSeenAt` is exact to within this. */
const DEFAULT_NOTE_INTERVAL_MS = 60_000;

/**
 * The change log, row snapshots and table list in Azure Table Storage: the connector reads them ({@link ChangeReader})
 * and `projectChange` writes them.
 *
 * Keys: partition keys are table names and row keys row ids, passed through `encodeURIComponent` because Table keys
 * may not hold `/ \ # ?` or control characters (logical names and GUIDs pass unchanged). A change's row key is its
 * inverted time (17 digits of `8640000000000000 - ms`), `_`, then its event id's UTF-8 bytes in hex with every digit
 * inverted (`f - d`) and a closing `z`. Ascending key order, the only order the service returns, is therefore newest
 * first, and among changes at the same millisecond by event id descending (byte-wise, which is string order for the
 * ASCII UUIDs we publish).
 *
 * Large values: JSON (a change's columns, a row's state) is split across properties `json0`, `json1`, … of at most
 * 30,000 characters. A change whose columns exceed 450,000 characters is stored without them and with
 * `attributesTruncated: true`; a row state that large is refused with {@link RowTooLargeError}.
 *
 * @example
 * const store = new TableChangeStore({ changes: changesClient, rows: rowsClient, tables: tablesClient });
 * await store.append(change);
 * const { changes, continuation } = await store.listChanges('account', { top: 100 });
 */
export class TableChangeStore extends ChangeStoreBase implements ChangeStore {
  private readonly changes: () => Promise<TableClient>;
  private readonly rows: () => Promise<TableClient>;
  private readonly tables: () => Promise<TableClient>;
  private readonly noteIntervalMs: number;
  /** When this process last noted each table (ms); saves the round trip on every other event. */
  private readonly noted = new Map<string, number>();

  /**
   * @param options.noteIntervalMs - How long `noteTable` skips a table it has already noted (default one minute).
   */
  constructor(tables: ChangeTables, options: { noteIntervalMs?: number } = {}) {
    super();
    const lazy = (client: TableClient | (() => Promise<TableClient>)) =>
      typeof client === 'function' ? client : async () => client;
    this.changes = lazy(tables.changes);
    this.rows = lazy(tables.rows);
    this.tables = lazy(tables.tables);
    this.noteIntervalMs = options.noteIntervalMs ?? DEFAULT_NOTE_INTERVAL_MS;
  }

  /** Adds a change to the log. Idempotent: the key is derived from the event, so a repeat replaces it with itself. */
  override async append(change: ChangeRecord): Promise<void> {
    const client = await this.changes();
    try {
      await client.upsertEntity(toChangeEntity(change), 'Replace');
    } catch (error) {
      throw toStorageError(error, 'append change', `table ${client.tableName}`);
    }
  }

  /** A row's stored state and ETag, or `undefined` when no event for it was projected yet. */
  override async readRow(table: string, id: string): Promise<StoredRow | undefined> {
    const client = await this.rows();
    try {
      const entity = await client.getEntity<Record<string, unknown>>(key(table), key(canonicalRowId(id)));
      return { state: JSON.parse(joinChunks(entity)) as RowState, etag: entity.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toStorageError(error, 'read row', `table ${client.tableName}`);
    }
  }

  /**
   * Writes a row's state: an insert without `etag`, else a replace conditioned on it. Returns `false` when another
   * writer got there first (409, 412, or the row vanished), so the caller re-reads and merges again.
   *
   * @throws {RowTooLargeError} when the state does not fit one entity.
   */
  override async writeRow(table: string, id: string, state: RowState, etag?: string): Promise<boolean> {
    const client = await this.rows();
    const rowId = canonicalRowId(id);
    const json = JSON.stringify(state);
    if (json.length > MAX_JSON_CHARS) throw new RowTooLargeError(table, rowId, json.length, MAX_JSON_CHARS);
    const entity = { partitionKey: key(table), rowKey: key(rowId), ...chunks(json) };
    try {
      if (etag === undefined) await client.createEntity(entity);
      else await client.updateEntity(entity, 'Replace', { etag });
      return true;
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412 || status === 404) return false;
      throw toStorageError(error, 'write row', `table ${client.tableName}`);
    }
  }

  /**
   * Records that an event for `name` was projected at `at`. Costs a round trip the first time this process sees the
   * table, and then at most once per interval (so `lastSeenAt` stays current to within it).
   */
  override async noteTable(name: string, at: Date = new Date()): Promise<void> {
    const last = this.noted.get(name);
    if (last !== undefined && at.getTime() - last < this.noteIntervalMs) return;
    // Claimed before the write, so concurrent events of one table make one request; forgotten if it fails.
    this.noted.set(name, at.getTime());
    const client = await this.tables();
    try {
      await client.upsertEntity(
        { partitionKey: TABLES_PARTITION, rowKey: key(name), name, lastSeenAt: at.toISOString() },
        'Merge',
      );
    } catch (error) {
      if (this.noted.get(name) === at.getTime()) this.noted.delete(name);
      throw toStorageError(error, 'note table', `table ${client.tableName}`);
    }
  }

  /**
   * One page of a table's change log, newest first (by time, ties by event id descending) across pages too, since
   * that is the key order. `since` is a server-side key range. A page may hold fewer than `top` changes and still
   * have a continuation.
   *
   * @throws {InvalidContinuationError} for a token that is not one this method returned.
   */
  override async listChanges(table: string, query: ChangeQuery): Promise<ChangePage> {
    const client = await this.changes();
    const partition = key(table);
    if (query.continuation !== undefined) checkContinuation(query.continuation);
    const { odata } = await import('@azure/data-tables');
    const filters = [odata`PartitionKey eq ${partition}`];
    // Every key at or after `since` starts with an inverted time at or below its own; '`' sorts just after '_'.
    if (query.since !== undefined) filters.push(odata`RowKey lt ${`${invertedTime(query.since.getTime())}\``}`);
    const top = Math.min(Math.max(Math.floor(query.top ?? DEFAULT_TOP), 1), MAX_TOP);
    try {
      const pages = client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: filters.join(' and ') } })
        .byPage({
          maxPageSize: top,
          ...(query.continuation === undefined ? {} : { continuationToken: query.continuation }),
        });
      const next = await pages.next();
      if (next.done) return { changes: [] };
      const page: TableEntityResultPage<Record<string, unknown>> = next.value;
      const changes = page.map(fromChangeEntity);
      return page.continuationToken ? { changes, continuation: page.continuationToken } : { changes };
    } catch (error) {
      throw toStorageError(error, 'list changes', `table ${client.tableName}`);
    }
  }

  /** Every table noted so far, by name. */
  override async listTables(): Promise<TableInfo[]> {
    const client = await this.tables();
    const { odata } = await import('@azure/data-tables');
    const tables: TableInfo[] = [];
    try {
      const entities = client.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${TABLES_PARTITION}` },
      });
      for await (const entity of entities) {
        tables.push({ name: String(entity.name), lastSeenAt: String(entity.lastSeenAt) });
      }
    } catch (error) {
      throw toStorageError(error, 'list tables', `table ${client.tableName}`);
    }
    return tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

// The change's scalar fields become properties (readable in Storage Explorer); the two collections go in json chunks.
const CHANGE_TEXT = ['eventId', 'type', 'message', 'table', 'rowId', 'time', 'organizationId', 'source'] as const;
const CHANGE_NULLABLE = ['userId', 'initiatingUserId', 'operationId', 'correlationId'] as const;

function toChangeEntity(change: ChangeRecord): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  const entity: { partitionKey: string; rowKey: string } & Record<string, unknown> = {
    partitionKey: key(change.table),
    rowKey: changeRowKey(change.time, change.eventId),
  };
  for (const field of CHANGE_TEXT) entity[field] = change[field];
  for (const field of CHANGE_NULLABLE) {
    const value = change[field];
    if (value !== null) entity[field] = value;
  }
  const { changedAttributes, attributes, previousValues, valueChangedAttributes, unknownPreviousAttributes } = change;
  const lists = valueChangedAttributes ? { valueChangedAttributes, unknownPreviousAttributes } : {};
  let json = JSON.stringify({ changedAttributes, attributes, ...(previousValues ? { previousValues } : {}), ...lists });
  if (json.length > MAX_JSON_CHARS) {
    // The values go (previous ones too); the column lists stay.
    json = JSON.stringify({
      changedAttributes,
      attributes: {},
      ...(previousValues ? { previousValues: {} } : {}),
      ...lists,
    });
    entity.attributesTruncated = true;
  }
  return { ...entity, ...chunks(json) };
}

function fromChangeEntity(entity: Record<string, unknown>): StoredChange {
  const text = (field: string) => (typeof entity[field] === 'string' ? (entity[field] as string) : '');
  const nullable = (field: string) => (typeof entity[field] === 'string' ? (entity[field] as string) : null);
  const { changedAttributes, attributes, previousValues, valueChangedAttributes, unknownPreviousAttributes } =
    JSON.parse(joinChunks(entity)) as Pick<
      ChangeRecord,
      'changedAttributes' | 'attributes' | 'previousValues' | 'valueChangedAttributes' | 'unknownPreviousAttributes'
    >;
  return {
    eventId: text('eventId'),
    type: text('type'),
    message: text('message'),
    table: text('table'),
    rowId: text('rowId'),
    time: text('time'),
    changedAttributes,
    attributes,
    // Changes logged before these fields existed, or not enriched, have none.
    ...(previousValues ? { previousValues } : {}),
    ...(valueChangedAttributes ? { valueChangedAttributes } : {}),
    ...(unknownPreviousAttributes ? { unknownPreviousAttributes } : {}),
    userId: nullable('userId'),
    initiatingUserId: nullable('initiatingUserId'),
    operationId: nullable('operationId'),
    correlationId: nullable('correlationId'),
    organizationId: text('organizationId'),
    source: text('source'),
    ...(entity.attributesTruncated === true ? { attributesTruncated: true as const } : {}),
  };
}

/** Newest first in ascending key order: see the class comment. */
function changeRowKey(time: string, eventId: string): string {
  const descending = Buffer.from(eventId, 'utf8')
    .toString('hex')
    .replace(/[0-9a-f]/g, (digit) => (15 - Number.parseInt(digit, 16)).toString(16));
  // 'z' sorts after every hex digit, so an id that is a prefix of another sorts after it, as descending order wants.
  return `${invertedTime(Date.parse(time))}_${descending}z`;
}

function invertedTime(ms: number): string {
  return String(MAX_TIME_MS - ms).padStart(TIME_DIGITS, '0');
}

function key(value: string): string {
  return encodeURIComponent(value);
}

function chunks(json: string): Record<string, string> {
  const properties: Record<string, string> = {};
  let start = 0;
  let n = 0;
  do {
    let end = Math.min(start + CHUNK_CHARS, json.length);
    // Never split a surrogate pair: half a character in each property would not survive the round trip.
    if (end < json.length && isHighSurrogate(json.charCodeAt(end - 1))) end--;
    properties[`json${n++}`] = json.slice(start, end);
    start = end;
  } while (start < json.length);
  return properties;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function joinChunks(entity: Record<string, unknown>): string {
  let json = '';
  for (let n = 0; typeof entity[`json${n}`] === 'string'; n++) json += entity[`json${n}`] as string;
  return json;
}

/**
 * The SDK's token is base64 JSON holding the service's next keys; a malformed one would otherwise surface as a
 * SyntaxError (a 500). The keys themselves are opaque (the service encodes them), so a token of another table passes;
 * the partition filter still keeps every page to the table asked for.
 */
