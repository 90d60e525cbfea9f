import { GUID } from '../dataverse/names.js';
import type { PreviousValueSource, ValueChanges } from '../events/bridgeSection.js';
import { compareVersions, type RowState, type Version } from './rowState.js';

/** What {@link valueChanges} compares: an Update's sent values and what the bridge knows of the row before it. */
export interface ValueChangeInput {
  /** The columns the caller sent (`changedAttributes`), in order. */
  columns: readonly string[];
  /** The values sent (`inputParameters.Target.attributes`). */
  sent: Record<string, unknown>;
  /** The attributes of each pre-image the step has (`preEntityImages`), in order. */
  preImages: ReadonlyArray<Record<string, unknown>>;
  /** The row snapshot the bridge holds, and the event's own version, when there is a snapshot. */
  snapshot?: { state: RowState; event: Version };
}

/**
 * Each sent column's previous value, when known, and whether the value really changed. A previous value is known
 * from a pre-image holding the column (Dataverse leaves empty columns out of images, so a column missing from every
 * image is not taken as empty), else from the snapshot when its value there was written by an event older than this
 * one; otherwise it is unknown (an unseen row, a column never seen, or a snapshot already newer than this event, as
 * when events arrive out of order). Values compare with {@link sameValue}.
 *
 * @example
 * valueChanges({ columns: ['name', 'telephone1'], sent: { name: 'A', telephone1: '2' },
 *   preImages: [{ name: 'A' }] });
 * // { previousValues: { name: 'A' }, previousValueSources: { name: 'preImage' },
 * //   valueChangedAttributes: [], unknownPreviousAttributes: ['telephone1'] }
 */
export function valueChanges(input: ValueChangeInput): ValueChanges {
  const result: ValueChanges = {
    previousValues: {},
    previousValueSources: {},
    valueChangedAttributes: [],
    unknownPreviousAttributes: [],
  };
  for (const column of input.columns) {
    const known = previousOf(column, input);
    if (known === undefined) {
      result.unknownPreviousAttributes.push(column);
      continue;
    }
    define(result.previousValues, column, known.value);
    define(result.previousValueSources, column, known.source);
    if (!sameValue(known.value, own(input.sent, column))) result.valueChangedAttributes.push(column);
  }
  return result;
}

/** Whether the snapshot may hold previous values this event needs (any column no pre-image has). */
export function needsSnapshot(columns: readonly string[], preImages: ReadonlyArray<Record<string, unknown>>): boolean {
  return columns.some((column) => !preImages.some((image) => Object.hasOwn(image, column)));
}

function previousOf(
  column: string,
  input: ValueChangeInput,
): { value: unknown; source: PreviousValueSource } | undefined {
  for (const image of input.preImages) {
    if (Object.hasOwn(image, column)) return { value: image[column], source: 'preImage' };
  }
  const snapshot = input.snapshot;
  if (snapshot === undefined || !Object.hasOwn(snapshot.state.attributes, column)) return undefined;
  const [value, index] = snapshot.state.attributes[column] as [unknown, number];
  const written = snapshot.state.versions[index];
  // Written by an event at or after this one: the value before this event is not in the snapshot any more.
  if (written === undefined || compareVersions(written, snapshot.event) >= 0) return undefined;
  return { value, source: 'snapshot' };
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether two column values are the same value, as Dataverse means it, whatever the form they came in:
 * - lookups by id (case-insensitive) and, when both name it, table: `{ logicalName, id, name }`, the connector's
 *   `{ table, id, name }` and a bare id (reconciliation's form) compare alike; the display name is ignored;
 * - numbers numerically, also against a numeric string (money and decimals);
 * - date-times as instants (`2024-05-01T10:00:00Z` is `2024-05-01T10:00:00.000Z`);
 * - multi-select choices (arrays of numbers) as sets; other arrays and objects member by member;
 * - anything else (text, yes/no, null) exactly. A missing value is `null`.
 *
 * @example
 * sameValue({ logicalName: 'account', id: 'A1…', name: 'Contoso' }, 'a1…'); // true
 * sameValue(10, '10.00');                                                 // true
 */
export function sameValue(a: unknown, b: unknown): boolean {
  const left = a === undefined ? null : a;
  const right = b === undefined ? null : b;
  if (left === null || right === null) return left === right;
  const leftId = referenceOf(left);
  const rightId = referenceOf(right);
  if (leftId !== undefined || rightId !== undefined) {
    if (leftId === undefined || rightId === undefined) return false;
    return leftId.id === rightId.id && (!leftId.table || !rightId.table || leftId.table === rightId.table);
  }
  if (typeof left === 'number' || typeof right === 'number') return numeric(left) === numeric(right);
  if (typeof left === 'string' && typeof right === 'string') {
    if (left === right) return true;
    return ISO_INSTANT.test(left) && ISO_INSTANT.test(right) && Date.parse(left) === Date.parse(right);
  }
  if (Array.isArray(left) || Array.isArray(right)) {
    if (!Array.isArray(left) || !Array.isArray(right) || left.length !== right.length) return false;
    if (left.every((x) => typeof x === 'number') && right.every((x) => typeof x === 'number')) {
      const sorted = (values: number[]) => [...values].sort((x, y) => x - y);
      return sorted(left).every((value, index) => value === sorted(right)[index]);
    }
    return left.every((value, index) => sameValue(value, right[index]));
  }
  if (typeof left === 'object' && typeof right === 'object') {
    const l = left as Record<string, unknown>;
    const r = right as Record<string, unknown>;
    const keys = new Set([...Object.keys(l), ...Object.keys(r)]);
    return [...keys].every((key) => sameValue(l[key], r[key]));
  }
  return left === right;
}

/** A lookup's target: a reference object (`logicalName` or `table`, and `id`), or a bare GUID. */
function referenceOf(value: unknown): { id: string; table: string | undefined } | undefined {
  if (typeof value === 'string') return GUID.test(value) ? { id: value.toLowerCase(), table: undefined } : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { id, logicalName, table, attributes } = value as Record<string, unknown>;
  // An entity (an activity party, say) has attributes too: it is compared member by member, not as a reference.
  if (typeof id !== 'string' || !GUID.test(id) || attributes !== undefined) return undefined;
  const name = typeof logicalName === 'string' ? logicalName : typeof table === 'string' ? table : undefined;
  return { id: id.toLowerCase(), table: name?.toLowerCase() };
}

function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** defineProperty, not assignment: a column named `__proto__` must stay a column. */
function define(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
