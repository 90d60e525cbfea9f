import { asObject } from './receivedEvent.js';

/**
 * What the bridge adds to a published event's `data` beside the normalized context, with `DATAVERSE_URL` set (README
 * "What the bridge adds to an event"). It is one property, `data.$bridge`, so nothing in it can be mistaken for what
 * Dataverse sent, and its name can never collide with a context property: the normalized context's names are the
 * camelCased members of Dataverse's `RemoteExecutionContext`, .NET identifiers, which never hold a `$` (the reader's
 * own additions, such as `$type`, are marked the same way).
 */

/** The property of `data` holding the bridge's additions. */
export const BRIDGE_SECTION = '$bridge';

/** Where a previous value came from. */
export type PreviousValueSource = 'preImage' | 'snapshot';

/**
 * A truncated context's row, read from Dataverse by the bridge after the context arrived (with the app's identity),
 * not part of what Dataverse sent.
 */
export interface FetchedRow {
  /** When the bridge read the row, ISO 8601 UTC: the values are the row's as of then, not as of the operation. */
  fetchedAt: string;
  table: string;
  id: string;
  /** `false` when the row no longer exists (deleted since the operation): then there are no values. */
  found: boolean;
  /** The row's version (`@odata.etag`), when found. */
  etag?: string;
  /**
   * Every column's value, in the plain shape of the connector's row operations: lookups `{ id, table, name }`, choices
   * `{ value, label }`, anything else the Web API's JSON value.
   */
  attributes?: Record<string, unknown>;
  /** Dataverse's formatted values of the other columns (money with its currency, dates, numbers, yes/no). */
  formattedValues?: Record<string, unknown>;
}

/** The previous values of an Update's columns, and which of them really changed. */
export interface ValueChanges {
  /** For each column the caller sent whose previous value is known: that value, in the context's normalized form. */
  previousValues: Record<string, unknown>;
  /** Where each previous value came from: the step's pre-image, or the row snapshot the bridge holds. */
  previousValueSources: Record<string, PreviousValueSource>;
  /** The columns the caller sent whose value differs from the previous one (in `changedAttributes` order). */
  valueChangedAttributes: string[];
  /** The columns the caller sent whose previous value is unknown: they may or may not have changed. */
  unknownPreviousAttributes: string[];
}

/** The whole section; each part present only when it applies. */
export interface BridgeSection extends Partial<ValueChanges> {
  fetchedRow?: FetchedRow;
  /**
   * Values left out so the event fits Event Grid's 1 MB per event, largest first, as paths into this section, e.g.
   * `fetchedRow.attributes.description` or `previousValues.notes`.
   */
  omitted?: string[];
}

/**
 * The value lists of an event's `$bridge` section, when it has them (an Update enriched by the bridge), read
 * defensively: an event from elsewhere may carry anything.
 *
 * @example
 * valueChangesOf(event.data)?.valueChangedAttributes; // ['telephone1']
 */
export function valueChangesOf(data: Record<string, unknown>): ValueChanges | undefined {
  const section = asObject(data[BRIDGE_SECTION]);
  if (section === undefined) return undefined;
  const changed = names(section.valueChangedAttributes);
  const unknown = names(section.unknownPreviousAttributes);
  if (changed === undefined || unknown === undefined) return undefined;
  const previousValues = asObject(section.previousValues) ?? {};
  const sources = asObject(section.previousValueSources) ?? {};
  return {
    previousValues,
    previousValueSources: Object.fromEntries(
      Object.entries(sources).filter(
        (entry): entry is [string, PreviousValueSource] => entry[1] === 'preImage' || entry[1] === 'snapshot',
      ),
    ),
    valueChangedAttributes: changed,
    unknownPreviousAttributes: unknown,
  };
}

function names(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : undefined;
}
