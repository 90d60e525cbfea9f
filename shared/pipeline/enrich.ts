/**
 * What the bridge adds to an event before it is published, with `DATAVERSE_URL` set (README "What the bridge adds to
 * an event"), in one place, `data.$bridge` (see `events/bridgeSection.ts`):
 *
 * - a truncated context (`messageMaxSizeExceeded`: Dataverse dropped Target, images and parent context) gets its row
 *   as the app reads it from Dataverse now, `fetchedRow`, marked with when; a row deleted meanwhile is `found: false`;
 * - an Update gets each sent column's previous value when known (pre-image, else the bridge's row snapshot), the
 *   columns whose value really changed, and those whose previous value is unknown.
 *
 * The ingest pipeline calls {@link enrichEvent} once per event it owns, just before packing. Any error (Dataverse or
 * storage unavailable, or a Dataverse refusal such as a missing privilege) fails that job alone: it is kept with its
 * raw bytes and retried, never published without what it should carry.
 */
import { needsSnapshot, valueChanges } from '../changes/previousValues.js';
import type { Version } from '../changes/rowState.js';
import { canonicalRowId } from '../changes/toChange.js';
import type { ChangeWriter } from '../changes/types.js';
import { GUID } from '../dataverse/names.js';
import type { NormalizedContext, NormalizedEntity } from '../dataverse/types.js';
import { isDataverseError } from '../dataverseApi/errors.js';
import { FORMATTED, plainRow } from '../dataverseApi/plainRow.js';
import type { DataverseApi } from '../dataverseApi/types.js';
import { BRIDGE_SECTION, type BridgeSection, type FetchedRow } from '../events/bridgeSection.js';
import { wireSize } from '../events/pack.js';
import { type BridgeEvent, EVENT_GRID_LIMITS, type PublishLimits } from '../events/types.js';

/** What enrichment reads: Dataverse (the app's identity) and the row snapshots `projectChanges` keeps. */
export interface EnrichDeps {
  /** The app's Dataverse client; asked for only when a truncated context needs its row. */
  dataverse: () => Promise<DataverseApi>;
  /** The row snapshots (read only). */
  rows: Pick<ChangeWriter, 'readRow'>;
  now?: () => Date;
}

const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';

/**
 * The event with its `$bridge` section, or the event itself when there is nothing to add. Never changes the context
 * Dataverse sent: the section is a new property of a copy of `data` (a `$bridge` that came in with the context is
 * replaced: only the bridge writes it). Values that would take the event past Event Grid's size limit are left out,
 * largest first, and named in `omitted`.
 *
 * @throws {DataverseError} or a storage error when what the event needs cannot be read now: retry the event later.
 * @example
 * const enriched = await enrichEvent(event, { dataverse: getDataverseApi, rows: changeStore });
 * enriched.data.$bridge?.fetchedRow?.found; // true
 */
export async function enrichEvent(
  event: BridgeEvent,
  deps: EnrichDeps,
  limits: PublishLimits = EVENT_GRID_LIMITS,
): Promise<BridgeEvent> {
  const context = event.data;
  const section: BridgeSection = {};
  const rowId = aboutARow(context);
  const message = context.messageName.toLowerCase();
  if (rowId !== undefined && context.messageMaxSizeExceeded && message !== 'delete') {
    section.fetchedRow = await fetchRow(context.primaryEntityName, rowId, deps);
  }
  if (rowId !== undefined && message === 'update' && context.changedAttributes.length > 0) {
    Object.assign(section, await previousValues(context, rowId, event, deps));
  }
  const hadOne = Object.hasOwn(context, BRIDGE_SECTION);
  if (Object.keys(section).length === 0 && !hadOne) return event;
  const { [BRIDGE_SECTION]: _replaced, ...rest } = context;
  const data = (Object.keys(section).length === 0 ? rest : { ...rest, [BRIDGE_SECTION]: section }) as NormalizedContext;
  return fitWithinLimits({ ...event, data }, section, limits);
}

/** The row id when the context is about one row (a GUID other than the empty one), in the snapshot's form. */
function aboutARow(context: NormalizedContext): string | undefined {
  const id = canonicalRowId(context.primaryEntityId);
  return GUID.test(id) && id !== EMPTY_GUID ? id : undefined;
}

async function fetchRow(table: string, id: string, deps: EnrichDeps): Promise<FetchedRow> {
  const api = await deps.dataverse();
  // The definition first: a 404 there is a table Dataverse does not know, which must fail, not read as a deleted row.
  const metadata = await api.getTable(table);
  const fetchedAt = (deps.now?.() ?? new Date()).toISOString();
  let row: Awaited<ReturnType<DataverseApi['retrieve']>>;
  try {
    row = await api.retrieve(table, id, { annotations: true });
  } catch (error) {
    if (isDataverseError(error) && error.status === 404) return { fetchedAt, table, id, found: false };
    throw error;
  }
  const { id: _id, etag, ...attributes } = plainRow(row, metadata);
  const folded = new Set(Object.keys(attributes));
  const formattedValues: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    if (!name.endsWith(FORMATTED)) continue;
    const column = name.slice(0, -FORMATTED.length);
    // Choices and lookups carry theirs in their plain value already.
    const plain = attributes[column];
    if (folded.has(column) && (typeof plain !== 'object' || plain === null)) formattedValues[column] = value;
  }
  return {
    fetchedAt,
    table,
    id,
    found: true,
    ...(typeof etag === 'string' ? { etag } : {}),
    attributes,
    formattedValues,
  };
}

async function previousValues(
  context: NormalizedContext,
  rowId: string,
  event: BridgeEvent,
  deps: EnrichDeps,
): Promise<BridgeSection> {
  const target = context.inputParameters.Target as Partial<NormalizedEntity> | undefined;
  const sent = (target && typeof target === 'object' && target.attributes) || {};
  const preImages = Object.values(context.preEntityImages ?? {})
    .map((image) => image?.attributes)
    .filter(
      (attributes): attributes is NormalizedEntity['attributes'] => typeof attributes === 'object' && !!attributes,
    );
  const columns = context.changedAttributes;
  let snapshot: Parameters<typeof valueChanges>[0]['snapshot'];
  if (needsSnapshot(columns, preImages)) {
    const stored = await deps.rows.readRow(context.primaryEntityName, rowId);
    // The event's version as projectChanges will write it (toChange): its time, its id, its message.
    const time = new Date(context.operationCreatedOn ?? event.time);
    if (stored !== undefined && !Number.isNaN(time.getTime())) {
      const version: Version = [time.toISOString(), event.id, context.messageName];
      snapshot = { state: stored.state, event: version };
    }
  }
  return valueChanges({ columns, sent, preImages, ...(snapshot ? { snapshot } : {}) });
}

/**
 * Leaves values out of the section, largest first, until the event fits one publish request on its own (the bound
 * `packEvents` checks). An event that does not fit even then is left to `packEvents`, which rejects it as too large.
 */
function fitWithinLimits(event: BridgeEvent, section: BridgeSection, limits: PublishLimits): BridgeEvent {
  const maxEvent = Math.min(limits.maxEventBytes, limits.maxRequestBytes - 2);
  let size = wireSize(event);
  if (size <= maxEvent) return event;
  const candidates: Array<{ path: string; record: Record<string, unknown>; key: string; bytes: number }> = [];
  const offer = (prefix: string, record: Record<string, unknown> | undefined) => {
    for (const [key, value] of Object.entries(record ?? {})) {
      const bytes = Buffer.byteLength(`${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'},`, 'utf8');
      candidates.push({ path: `${prefix}.${key}`, record: record as Record<string, unknown>, key, bytes });
    }
  };
  offer('fetchedRow.attributes', section.fetchedRow?.attributes);
  offer('fetchedRow.formattedValues', section.fetchedRow?.formattedValues);
  offer('previousValues', section.previousValues);
  candidates.sort((a, b) => b.bytes - a.bytes);
  const omitted: string[] = [];
  section.omitted = omitted;
  for (const candidate of candidates) {
    delete candidate.record[candidate.key];
    omitted.push(candidate.path);
    size -= candidate.bytes;
    // Cheap estimates while far over; the real size once they say it fits.
    if (size <= maxEvent) {
      size = wireSize(event);
      if (size <= maxEvent) break;
    }
  }
  return event;
}
