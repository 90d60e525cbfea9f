import type { RowSnapshot } from './types.js';

/**
 * What one event does to a row's snapshot: write some columns (Create, Update, any other message) or delete the row.
 * Built by `toChange`.
 */
export interface RowEvent {
  /** When Dataverse performed the operation, ISO 8601 UTC (`toISOString()` form). */
  time: string;
  eventId: string;
  /** The Dataverse message, e.g. `Update`. */
  message: string;
  /** A Delete: the row is gone as of `time`; `attributes` and `formattedValues` are ignored. */
  delete: boolean;
  attributes: Record<string, unknown>;
  formattedValues: Record<string, unknown>;
}

/**
 * The version of an event: `[time, eventId, message]`. Versions are ordered by time, then event id, then message
 * (string comparison), so two events at the same instant still have a fixed order (the tie rule).
 */
export type Version = [time: string, eventId: string, message: string];

/** A column's newest known value and the index (into {@link RowState.versions}) of the event that wrote it. */
export type Cell = [value: unknown, version: number];

/**
 * The stored, merged state of one row: a last-writer-wins map per column with a tombstone. Canonical: the same set of
 * events gives the same state (and the same JSON) whatever order and however often they were applied.
 *
 * Event ids are stored once in `versions` and referenced by index, so a row with 200 columns written by one event
 * stores its id once.
 *
 * @example
 * {
 *   versions: [['2024-05-01T10:00:00.000Z', '0b6e…', 'Create'], ['2024-05-01T10:05:00.000Z', '9f12…', 'Update']],
 *   attributes: { name: ['Contoso', 0], telephone1: ['555-0100', 1] },
 *   formattedValues: {},
 *   lastWrite: 1,
 * }
 */
export interface RowState {
  /** Every version some field below refers to, oldest first. */
  versions: Version[];
  /** Column name → newest value, sorted by name. Only columns written after the newest Delete. */
  attributes: Record<string, Cell>;
  /** Column name → newest formatted value, sorted by name; only those at least as new as the column's value. */
  formattedValues: Record<string, Cell>;
  /** The newest event that was not a Delete, when it is newer than the newest Delete. */
  lastWrite?: number;
  /** The newest Delete. */
  deletedAt?: number;
}

/** The state as plain maps holding versions themselves, for merging. */
interface Working {
  attributes: Map<string, Entry>;
  formattedValues: Map<string, Entry>;
  lastWrite: Version | undefined;
  deletedAt: Version | undefined;
}

interface Entry {
  value: unknown;
  version: Version;
}

/**
 * Orders versions: by instant, then event id, then message (the tie rule). Returns a negative number, zero or a positive number.
 *
 * @example
 * compareVersions(['2024-05-01T10:00:00.000Z', 'b', 'Update'], ['2024-05-01T10:00:00.000Z', 'a', 'Update']); // > 0
 */
export function compareVersions(a: Version, b: Version): number {
  const byTime = Date.parse(a[0]) - Date.parse(b[0]);
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  // The text of the time comes last only to make the order total; `toChange` writes every time one way.
  return compareStrings(a[1], b[1]) || compareStrings(a[2], b[2]) || compareStrings(a[0], b[0]);
}

/**
 * The row state after `event`, merged into `state` (or into nothing, for the first event of a row). Pure, and
 * commutative, associative and idempotent over events: any permutation of a set of events, with any duplicates,
 * yields the same state as applying each once in time order. A newer version wins per column; a Delete hides every
 * column written before it (they are dropped, as no later event can make them visible again).
 *
 * @example
 * let state = applyEvent(undefined, { time, eventId, message: 'Create', delete: false, attributes, formattedValues });
 * state = applyEvent(state, deleteEvent);
 * toSnapshot('account', id, state).deleted; // true when the Delete is the newest event
 */
export function applyEvent(state: RowState | undefined, event: RowEvent): RowState {
  const working = state === undefined ? emptyWorking() : fromState(state);
  const version: Version = [event.time, event.eventId, event.message];
  if (event.delete) {
    working.deletedAt = newer(working.deletedAt, version);
  } else {
    working.lastWrite = newer(working.lastWrite, version);
    for (const [column, value] of Object.entries(event.attributes)) {
      put(working.attributes, column, { value, version });
    }
    for (const [column, value] of Object.entries(event.formattedValues)) {
      put(working.formattedValues, column, { value, version });
    }
  }
  return toState(working);
}

/**
 * Merges two states as if every event behind either had been applied to one: the same laws as {@link applyEvent}.
 */
export function mergeStates(a: RowState, b: RowState): RowState {
  const working = fromState(a);
  const other = fromState(b);
  working.lastWrite = newer(working.lastWrite, other.lastWrite);
  working.deletedAt = newer(working.deletedAt, other.deletedAt);
  for (const [column, entry] of other.attributes) put(working.attributes, column, entry);
  for (const [column, entry] of other.formattedValues) put(working.formattedValues, column, entry);
  return toState(working);
}

/**
 * The API view of a row state. `deleted` when the newest event was a Delete (then `attributes` and `formattedValues`
 * are empty); `updatedAt`, `lastEventId` and `lastMessage` describe the newest event, Delete included.
 *
 * @example
 * toSnapshot('contact', '6d81597f-0f9f-e711-8122-000d3aa2331c', state);
 * // { table: 'contact', id: '6d81…', deleted: false, attributes: { firstname: 'James' }, formattedValues: {},
 * //   updatedAt: '2017-09-26T07:04:08.000Z', lastEventId: '…', lastMessage: 'Update' }
 */
export function toSnapshot(table: string, id: string, state: RowState): RowSnapshot {
  const at = (index: number | undefined) => (index === undefined ? undefined : state.versions[index]);
  const lastWrite = at(state.lastWrite);
  const deletedAt = at(state.deletedAt);
  const deleted = deletedAt !== undefined && (lastWrite === undefined || compareVersions(deletedAt, lastWrite) > 0);
  const newest = deleted ? deletedAt : lastWrite;
  if (newest === undefined)
    throw new Error(`Row state of ${table}/${id} has no version: it was not built by applyEvent.`);
  // Pruning already dropped every cell older than the newest Delete, so a tombstone has none left.
  const values = (cells: Record<string, Cell>) =>
    Object.fromEntries(Object.entries(cells).map(([column, [value]]) => [column, value]));
  return {
    table,
    id,
    deleted,
    attributes: deleted ? {} : values(state.attributes),
    formattedValues: deleted ? {} : values(state.formattedValues),
    updatedAt: newest[0],
    lastEventId: newest[1],
    lastMessage: newest[2],
  };
}

function emptyWorking(): Working {
  return { attributes: new Map(), formattedValues: new Map(), lastWrite: undefined, deletedAt: undefined };
}

function fromState(state: RowState): Working {
  const version = (index: number): Version => {
    const found = state.versions[index];
    if (found === undefined) throw new Error(`Row state refers to version ${index}, which it does not hold.`);
    return found;
  };
  const cells = (record: Record<string, Cell>) =>
    new Map(Object.entries(record).map(([column, [value, index]]) => [column, { value, version: version(index) }]));
  return {
    attributes: cells(state.attributes),
    formattedValues: cells(state.formattedValues),
    lastWrite: state.lastWrite === undefined ? undefined : version(state.lastWrite),
    deletedAt: state.deletedAt === undefined ? undefined : version(state.deletedAt),
  };
}

/** Prunes what can never be visible again, then writes the canonical form: sorted columns and versions. */
function toState(working: Working): RowState {
  const { deletedAt } = working;
  const afterDelete = (version: Version) => deletedAt === undefined || compareVersions(version, deletedAt) > 0;
  // A last write older than the Delete no longer shows either; dropping it keeps late, stale events from changing
  // the stored form (and costing a write).
  const lastWrite = working.lastWrite !== undefined && afterDelete(working.lastWrite) ? working.lastWrite : undefined;
  const attributes = [...working.attributes].filter(([, entry]) => afterDelete(entry.version));
  const current = new Map(attributes);
  // A formatted value older than its column's value describes a value the row no longer has.
  const formattedValues = [...working.formattedValues].filter(([column, entry]) => {
    const value = current.get(column);
    return afterDelete(entry.version) && (value === undefined || compareVersions(entry.version, value.version) >= 0);
  });
  const used = new Map<string, Version>();
  const note = (version: Version | undefined) => {
    if (version !== undefined) used.set(versionKey(version), version);
  };
  for (const [, entry] of attributes) note(entry.version);
  for (const [, entry] of formattedValues) note(entry.version);
  note(lastWrite);
  note(deletedAt);
  const versions = [...used.values()].sort(compareVersions);
  const indexOf = new Map(versions.map((version, index) => [versionKey(version), index]));
  const index = (version: Version) => indexOf.get(versionKey(version)) as number;
  const cells = (entries: [string, Entry][]) =>
    Object.fromEntries(
      entries
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([column, entry]): [string, Cell] => [column, [entry.value, index(entry.version)]]),
    );
  return {
    versions,
    attributes: cells(attributes),
    formattedValues: cells(formattedValues),
    ...(lastWrite === undefined ? {} : { lastWrite: index(lastWrite) }),
    ...(deletedAt === undefined ? {} : { deletedAt: index(deletedAt) }),
  };
}

/** Keeps the entry with the newer version; for the same version (a repeated event), the greater value, so even a
 * malformed repeat with other values merges the same way in any order. */
function put(cells: Map<string, Entry>, column: string, entry: Entry): void {
  const existing = cells.get(column);
  if (existing === undefined) {
    cells.set(column, entry);
    return;
  }
  const order = compareVersions(entry.version, existing.version);
  if (order > 0 || (order === 0 && compareStrings(jsonOf(entry.value), jsonOf(existing.value)) > 0)) {
    cells.set(column, entry);
  }
}

function newer(a: Version | undefined, b: Version | undefined): Version | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(b, a) > 0 ? b : a;
}

function versionKey(version: Version): string {
  return JSON.stringify(version);
}

function jsonOf(value: unknown): string {
  return JSON.stringify(value) ?? '';
}

/** Plain code-unit order, the same in every locale (unlike `localeCompare`). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
