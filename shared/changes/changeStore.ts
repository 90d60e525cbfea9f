import { type RowState, toSnapshot } from './rowState.js';
import { canonicalRowId } from './toChange.js';
import type { ChangePage, ChangeQuery, ChangeRecord, ChangeStore, RowSnapshot, StoredRow, TableInfo } from './types.js';

/**
 * The part of every change store that is not about storage: a row's snapshot is the merge of its stored state
 * (`toSnapshot`). An adapter extends this and implements the storage operations only.
 *
 * @example
 * class MemoryChangeStore extends ChangeStoreBase {
 *   async readRow(table: string, id: string) { return this.rows.get(`${table}/${id}`); }
 *   // append, noteTable, writeRow, listChanges, listTables
 * }
 */
export abstract class ChangeStoreBase implements ChangeStore {
  abstract append(change: ChangeRecord): Promise<void>;
  abstract noteTable(name: string, at?: Date): Promise<void>;
  abstract readRow(table: string, id: string): Promise<StoredRow | undefined>;
  abstract writeRow(table: string, id: string, state: RowState, etag?: string): Promise<boolean>;
  abstract listChanges(table: string, query: ChangeQuery): Promise<ChangePage>;
  abstract listTables(): Promise<TableInfo[]>;

  /** The snapshot of a row (a tombstone after a Delete), or `undefined` when no event for it was seen. */
  async getRow(table: string, id: string): Promise<RowSnapshot | undefined> {
    const row = await this.readRow(table, id);
    return row === undefined ? undefined : toSnapshot(table, canonicalRowId(id), row.state);
  }
}
