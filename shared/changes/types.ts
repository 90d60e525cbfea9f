import type { RowState } from './rowState.js';

/**
 * The change log and the latest-row snapshots kept by `projectChanges` (one of the Event Grid subscribers), and read
 * by the connector's `changes`, `rows` and `tables` operations.
 */

/** One entry of the change log: what one event did to one row. Entries are keyed by the event id (idempotent). */
export interface ChangeRecord {
  /** The CloudEvent id. */
  eventId: string;
  /** The CloudEvent type, e.g. `dataverse.update`. */
  type: string;
  /** The Dataverse message, e.g. `Update`. */
  message: string;
  /** The table's logical name (`primaryEntityName`). */
  table: string;
  /** The row id (`primaryEntityId`). */
  rowId: string;
  /** When Dataverse performed the operation (`operationCreatedOn`, else the event time), ISO 8601 UTC. */
  time: string;
  /** For Update: the columns the caller set. Otherwise empty. */
  changedAttributes: string[];
  /** The column values this event carried (Target, then post images over it); empty for Delete. */
  attributes: Record<string, unknown>;
  /**
   * `attributes` was left out because the event's columns exceed what one Table entity holds (about 900 KB); the
   * published event itself still has them.
   */
  attributesTruncated?: boolean;
  /**
   * For an Update the bridge enriched (`DATAVERSE_URL` set): each sent column's previous value when known, from the
   * pre-image or the bridge's row snapshot. Absent on other changes, and on changes logged before this field existed.
   */
  previousValues?: Record<string, unknown>;
  /** With `previousValues`: the sent columns whose value really differs from the previous one. */
  valueChangedAttributes?: string[];
  /** With `previousValues`: the sent columns whose previous value is unknown (they may have changed). */
  unknownPreviousAttributes?: string[];
  userId: string | null;
  initiatingUserId: string | null;
  operationId: string | null;
  correlationId: string | null;
  organizationId: string;
  /** The CloudEvent source (the organization). */
  source: string;
}

/** The latest known state of a row, merged from every event seen for it, in any order. */
export interface RowSnapshot {
  table: string;
  id: string;
  /** The newest event for the row was a Delete: this is a tombstone, and `attributes` is empty. */
  deleted: boolean;
  /** Each column's newest known value. */
  attributes: Record<string, unknown>;
  /** Each column's newest known formatted value (labels of choices, lookups' names, money with currency…). */
  formattedValues: Record<string, unknown>;
  /** The time of the newest event merged in, ISO 8601 UTC. */
  updatedAt: string;
  /** The id and message of the newest event merged in. */
  lastEventId: string;
  lastMessage: string;
}

/** A Dataverse table seen in at least one event. */
export interface TableInfo {
  /** The logical name, e.g. `account`. */
  name: string;
  /** When an event for it was last projected, ISO 8601 UTC. */
  lastSeenAt: string;
}

export interface ChangeQuery {
  /** Only changes whose `time` is at or after this instant. */
  since?: Date;
  /** Page size (default 50, at most 1000). */
  top?: number;
  /** Continuation token from the previous page. */
  continuation?: string;
}

export interface ChangePage {
  /** Newest first (by `time`, ties by event id descending). */
  changes: ChangeRecord[];
  /** Present when there are more results. */
  continuation?: string;
}

/** What the connector reads. The projection's own write path is on the adapter (see `projectChanges`). */
export interface ChangeReader {
  listChanges(table: string, query: ChangeQuery): Promise<ChangePage>;
  /** The snapshot of a row (a tombstone after a Delete), or `undefined` when no event for it was seen. */
  getRow(table: string, id: string): Promise<RowSnapshot | undefined>;
  /** Every table seen so far, by name. */
  listTables(): Promise<TableInfo[]>;
}

/** A row's merged state and the ETag to condition the next write on. */
export interface StoredRow {
  state: RowState;
  etag: string;
}

/** The projection's write path. */
export interface ChangeWriter {
  /** Adds a change to the log; idempotent per event. */
  append(change: ChangeRecord): Promise<void>;
  /** Records that an event for the table was projected (cheap when recently noted). */
  noteTable(name: string, at?: Date): Promise<void>;
  /** A row's stored state and ETag, or `undefined` when no event for it was projected yet. */
  readRow(table: string, id: string): Promise<StoredRow | undefined>;
  /**
   * Insert without `etag`, conditional replace with it; `false` when another writer won (re-read and retry).
   *
   * @throws {RowTooLargeError} when the state does not fit what the store holds for one row.
   */
  writeRow(table: string, id: string, state: RowState, etag?: string): Promise<boolean>;
}

/** The change-store port: what the projection writes and the connector reads (implemented by `TableChangeStore`). */
export type ChangeStore = ChangeReader & ChangeWriter;
