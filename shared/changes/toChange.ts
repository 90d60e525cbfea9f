import { GUID, LOGICAL_NAME } from '../dataverse/names.js';
import { PermanentError } from '../errors.js';
import { valueChangesOf } from '../events/bridgeSection.js';
import { asObject, readReceivedEvent } from '../events/receivedEvent.js';
import type { RowEvent } from './rowState.js';
import type { ChangeRecord } from './types.js';

/**
 * The event handed to `projectChanges` is not one Dataverse Bridge published, or is one that cannot be projected.
 * Permanent: the same event fails the same way every time, so it is logged and dropped, not retried.
 */
export class UnprojectableEventError extends PermanentError {
  override readonly name = 'UnprojectableEventError';
  readonly code = 'UnprojectableEvent';

  /**
   * @param eventId - The event's id, when it has one.
   * @param problem - What is wrong, as the middle of a sentence: `its type is "Microsoft.Storage.BlobCreated"…`.
   */
  constructor(
    readonly eventId: string | undefined,
    problem: string,
  ) {
    super(
      `The event${eventId === undefined ? '' : ` ${eventId}`} is not a Dataverse Bridge change: ${problem}. ` +
        'projectChanges takes only the CloudEvents Dataverse Bridge publishes: filter its Event Grid subscription on ' +
        'event types beginning with "dataverse." (advanced filter StringBeginsWith on the type) and check the publisher.',
    );
  }
}

/** What one event contributes: its change-log entry and, when it is about a row, what it does to the row. */
export interface ProjectedEvent {
  change: ChangeRecord;
  /**
   * Absent when the event concerns no row: custom APIs and actions not bound to a table come with the table `none`
   * and the empty GUID, and one snapshot merging all of them would mean nothing (and be a write hot spot).
   */
  row?: RowEvent;
}

// Longer names or ids are not Dataverse's and would not fit a Table storage key once encoded.
const MAX_NAME = 128;
const MAX_EVENT_ID_BYTES = 256;
const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';

/**
 * A row id as the projection keys it: GUIDs in lower case (Dataverse writes them so, but a caller may not), any other
 * id unchanged.
 *
 * @example
 * canonicalRowId('6D81597F-0F9F-E711-8122-000D3AA2331C'); // '6d81597f-0f9f-e711-8122-000d3aa2331c'
 */
export function canonicalRowId(id: string): string {
  return GUID.test(id) ? id.toLowerCase() : id;
}

/**
 * Reads the event the Event Grid trigger passes (a CloudEvent 1.0 object as Dataverse Bridge publishes it, whose
 * `data` is the normalized context; the Event Grid schema spellings `eventType`/`eventTime` are accepted too) into
 * its change-log entry and its effect on the row. The row's values are the attributes and formatted values of
 * Target, when Target is an Entity (not a reference), then of every post image over them; a Delete carries none.
 * The time is `operationCreatedOn`, else the event time.
 *
 * @throws {UnprojectableEventError} when the event is not ours or lacks what a change needs.
 * @example
 * const { change, row } = toChange(event);
 * change.table;   // 'contact'
 * row?.delete;    // false for an Update
 */
export function toChange(event: unknown): ProjectedEvent {
  const received = readReceivedEvent(event);
  const fail = (problem: string): never => {
    throw new UnprojectableEventError(received.id, problem);
  };
  if ('notOurs' in received) return fail(received.notOurs);
  if (Buffer.byteLength(received.id) > MAX_EVENT_ID_BYTES) {
    return fail(`its id is longer than ${MAX_EVENT_ID_BYTES} bytes`);
  }
  const { type, data } = received;
  const text = (field: string): string => {
    const value = data[field];
    if (typeof value !== 'string' || value === '') return fail(`its data has no ${field}`);
    if (value.length > MAX_NAME) return fail(`its data.${field} is longer than ${MAX_NAME} characters`);
    if (!wellFormed(value)) return fail(`its data.${field} is not well-formed text`);
    return value;
  };
  const message = text('messageName');
  const table = text('primaryEntityName');
  // Checked here, where table names enter the store: ListTables must never list a name ListChanges refuses.
  if (!LOGICAL_NAME.test(table)) {
    fail('its data.primaryEntityName is not a Dataverse table logical name (letters, digits and _)');
  }
  const rowId = canonicalRowId(text('primaryEntityId'));
  const when = data.operationCreatedOn ?? received.time;
  const instant = typeof when === 'string' ? new Date(when) : undefined;
  if (instant === undefined || Number.isNaN(instant.getTime())) {
    return fail(`it has no valid time (data.operationCreatedOn or time is ${JSON.stringify(when ?? null)})`);
  }
  const time = instant.toISOString();
  const organizationId = optionalText(data.organizationId) ?? '';
  const isDelete = message.toLowerCase() === 'delete';
  const { attributes, formattedValues } = isDelete ? { attributes: {}, formattedValues: {} } : rowValues(data);
  const change: ChangeRecord = {
    eventId: received.id,
    type,
    message,
    table,
    rowId,
    time,
    changedAttributes: Array.isArray(data.changedAttributes)
      ? data.changedAttributes.filter((name): name is string => typeof name === 'string')
      : [],
    attributes,
    ...valueFields(data),
    userId: optionalText(data.userId),
    initiatingUserId: optionalText(data.initiatingUserId),
    operationId: optionalText(data.operationId),
    correlationId: optionalText(data.correlationId),
    organizationId,
    source:
      optionalText(received.source) ??
      optionalText(data.organizationUrl) ??
      `/organizations/${organizationId === '' ? 'unknown' : organizationId}`,
  };
  // GetRow takes GUIDs only: a snapshot of any other id could never be read.
  if (rowId === EMPTY_GUID || !GUID.test(rowId)) return { change };
  return { change, row: { time, eventId: received.id, message, delete: isDelete, attributes, formattedValues } };
}

/** The previous values and really-changed columns of an Update the bridge enriched (its `$bridge` section). */
function valueFields(
  data: Record<string, unknown>,
): Pick<ChangeRecord, 'previousValues' | 'valueChangedAttributes' | 'unknownPreviousAttributes'> {
  const changes = valueChangesOf(data);
  if (changes === undefined) return {};
  return {
    previousValues: changes.previousValues,
    valueChangedAttributes: changes.valueChangedAttributes,
    unknownPreviousAttributes: changes.unknownPreviousAttributes,
  };
}

/** Target's values (when it is an Entity), then each post image's over them: the images show the row after the operation. */
function rowValues(data: Record<string, unknown>): {
  attributes: Record<string, unknown>;
  formattedValues: Record<string, unknown>;
} {
  const attributes: Record<string, unknown> = {};
  const formattedValues: Record<string, unknown> = {};
  const take = (entity: unknown) => {
    const found = asObject(entity);
    const values = asObject(found?.attributes);
    if (values === undefined) return; // an EntityReference (Delete, Assign…) or nothing
    // defineProperty, not assignment: a column named `__proto__` must stay a column.
    for (const [column, value] of Object.entries(values)) define(attributes, column, value);
    for (const [column, value] of Object.entries(asObject(found?.formattedValues) ?? {})) {
      define(formattedValues, column, value);
    }
  };
  take(asObject(data.inputParameters)?.Target);
  for (const image of Object.values(asObject(data.postEntityImages) ?? {})) take(image);
  return { attributes, formattedValues };
}

function define(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function optionalText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** False for text with a lone surrogate, which cannot be encoded into a storage key. */
function wellFormed(value: string): boolean {
  try {
    encodeURIComponent(value);
    return true;
  } catch {
    return false;
  }
}
