import { describe, expect, it } from 'vitest';
import { canonicalRowId, toChange, UnprojectableEventError } from '../../shared/changes/toChange.js';
import { readContext } from '../../shared/dataverse/index.js';
import type { NormalizedContext } from '../../shared/dataverse/types.js';
import { PermanentError } from '../../shared/errors.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import type { BridgeEvent } from '../../shared/events/types.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import {
  dataContractJson,
  kv,
  ORG_ID,
  ROW_ID,
  rawContext as rawContextOf,
  reference,
  USER_ID,
} from '../helpers/contexts.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';

const RECEIVED = new Date('2026-01-02T03:04:05.000Z');

/** The CloudEvent the pipeline publishes for a reference sample. */
function sampleEvent(name: string): BridgeEvent {
  const bytes = contextBytes(name);
  const context = readContext(bytes);
  return toCloudEvent(context, eventIdFor(jobKeyForContext(context, bytes)), RECEIVED);
}

/** The CloudEvent for a hand-built raw context, as it arrives through the trigger (a JSON copy). */
function eventOf(overrides: Record<string, unknown>, eventId = 'e-1'): BridgeEvent {
  const context = readContext(dataContractJson(rawContextOf(overrides)));
  return JSON.parse(JSON.stringify(toCloudEvent(context, eventId, RECEIVED))) as BridgeEvent;
}

function rejection(event: unknown): UnprojectableEventError {
  try {
    toChange(event);
  } catch (error) {
    if (error instanceof UnprojectableEventError) return error;
    throw error;
  }
  throw new Error('toChange accepted the event');
}

describe('toChange: the reference samples', () => {
  it('reads the Microsoft Learn webhook Update of a contact (values read from the fixture text)', () => {
    const event = sampleEvent('msdocs-usewebhooks-update-contact.json');
    const { change, row } = toChange(event);
    const contact = '6d81597f-0f9f-e711-8122-000d3aa2331c';
    const attributes = {
      firstname: 'James',
      contactid: contact,
      fullname: 'James Glynn (sample)',
      yomifullname: 'James Glynn (sample)',
      // "/Date(1506384247000)/": `date -u -d @1506384247` is Tue Sep 26 00:04:07 UTC 2017
      modifiedon: '2017-09-26T00:04:07.000Z',
      modifiedby: { logicalName: 'systemuser', id: '75c2dd85-e89e-e711-8122-000d3aa2331c', name: null },
      modifiedonbehalfby: null,
    };
    expect(change).toEqual({
      eventId: event.id,
      type: 'dataverse.update',
      message: 'Update',
      table: 'contact',
      rowId: contact,
      // OperationCreatedOn "/Date(1506409448000-0700)/": the offset is informational, the instant is UTC.
      time: '2017-09-26T07:04:08.000Z',
      changedAttributes: Object.keys(attributes),
      attributes,
      userId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      initiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      operationId: '4af10637-4ea2-e711-8122-000d3aa2331c',
      correlationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
      organizationId: '4ef5b371-e89e-e711-8122-000d3aa2331c',
      source: '/organizations/4ef5b371-e89e-e711-8122-000d3aa2331c',
    });
    // The post image (fullname, contactid) agrees with Target, so the row gets exactly Target's columns.
    expect(row).toEqual({
      time: '2017-09-26T07:04:08.000Z',
      eventId: event.id,
      message: 'Update',
      delete: false,
      attributes,
      formattedValues: {},
    });
  });

  it('lays the post image over Target: its lookup names and labels win, Target-only labels stay', () => {
    const { change, row } = toChange(
      sampleEvent('albxrm-create-sharepointdocumentlocation-queryexpression-parent.json'),
    );
    expect(change).toMatchObject({
      type: 'dataverse.create',
      message: 'Create',
      table: 'sharepointdocumentlocation',
      rowId: '1e3839b3-08d4-ef11-aeb0-00155d000101',
      // "/Date(1737024736000+0200)/"
      time: '2025-01-16T10:52:16.000Z',
      changedAttributes: [],
    });
    // Target has ownerid with Name null; the PostImage has Name "Name".
    expect(row?.attributes.ownerid).toEqual({
      logicalName: 'systemuser',
      id: '30c91177-9436-4042-ad53-dd966d490114',
      name: 'Name',
    });
    expect(row?.attributes).toMatchObject({ locationtype: 0, relativeurl: 'Mini test', statecode: 0, statuscode: 1 });
    expect(row?.formattedValues).toEqual({
      statecode: 'Active',
      locationtype: 'General',
      statuscode: 'Active',
      modifiedon: '2025-01-16T14:52:16+02:00',
      createdon: '2025-01-16T14:52:16+02:00',
      ownerid: 'Name',
      parentsiteorlocation: 'account',
      regardingobjectid: 'Mini test',
    });
    expect(change.attributes).toBe(row?.attributes);
  });

  it('a custom API not bound to a table is logged under "none" but touches no row', () => {
    const { change, row } = toChange(sampleEvent('devkit-pluginside-customapi-devkit_DebugCustomApi.json'));
    expect(change).toMatchObject({
      type: 'dataverse.devkit_debugcustomapi',
      message: 'devkit_DebugCustomApi',
      table: 'none',
      rowId: '00000000-0000-0000-0000-000000000000',
      attributes: {},
    });
    expect(row).toBeUndefined();
  });

  it('reads every sample the context reader accepts, with its table, row and operation time', () => {
    let read = 0;
    for (const name of contextNames()) {
      let context: NormalizedContext;
      try {
        context = readContext(contextBytes(name));
      } catch {
        continue;
      }
      const { change } = toChange(sampleEvent(name));
      expect(change.table).toBe(context.primaryEntityName);
      expect(change.rowId).toBe(context.primaryEntityId);
      expect(change.time).toBe(context.operationCreatedOn);
      read++;
    }
    expect(read).toBeGreaterThanOrEqual(10);
  });
});

describe('toChange: messages and shapes', () => {
  it('a Delete (Target is a reference) is a tombstone with no columns', () => {
    const event = eventOf({
      MessageName: 'Delete',
      InputParameters: kv({ Target: reference('contact', ROW_ID) }),
    });
    const { change, row } = toChange(event);
    expect(change).toMatchObject({
      type: 'dataverse.delete',
      message: 'Delete',
      attributes: {},
      changedAttributes: [],
    });
    expect(row).toEqual({
      time: '2017-09-26T07:04:08.000Z',
      eventId: 'e-1',
      message: 'Delete',
      delete: true,
      attributes: {},
      formattedValues: {},
    });
  });

  it('an Assign (Target is a reference, no image) is a write of no columns', () => {
    const { row } = toChange(
      eventOf({ MessageName: 'Assign', InputParameters: kv({ Target: reference('contact', ROW_ID) }) }),
    );
    expect(row).toMatchObject({ delete: false, attributes: {}, formattedValues: {}, message: 'Assign' });
  });

  it('accepts the Event Grid schema spelling (eventType, eventTime, dataVersion)', () => {
    const cloud = eventOf({});
    const gridSchema = {
      id: cloud.id,
      topic: '/subscriptions/x/resourceGroups/y/providers/Microsoft.EventGrid/topics/z',
      subject: cloud.subject,
      eventType: cloud.type,
      eventTime: cloud.time,
      dataVersion: '1.0',
      data: cloud.data,
    };
    const fromGrid = toChange(gridSchema);
    const fromCloud = toChange(cloud);
    expect(fromGrid.row).toEqual(fromCloud.row);
    expect(fromGrid.change).toEqual({ ...fromCloud.change, source: `/organizations/${ORG_ID}` });
    expect(fromGrid.change.type).toBe('dataverse.update');
  });

  it('takes the event time when the context has no OperationCreatedOn', () => {
    const event = eventOf({ OperationCreatedOn: null });
    expect(event.time).toBe(RECEIVED.toISOString());
    expect(toChange(event).change.time).toBe('2026-01-02T03:04:05.000Z');
  });

  it('writes GUID row ids in lower case, as Dataverse does', () => {
    const upper = ROW_ID.toUpperCase();
    const event = eventOf({ PrimaryEntityId: upper });
    expect(toChange(event).change.rowId).toBe(ROW_ID);
    expect(canonicalRowId(upper)).toBe(ROW_ID);
    expect(canonicalRowId('not-a-guid-ABC')).toBe('not-a-guid-ABC');
  });

  it("carries an enriched Update's previous values and really-changed columns, and nothing from a malformed section", () => {
    const event = eventOf({});
    const section = {
      previousValues: { firstname: 'Jim' },
      previousValueSources: { firstname: 'snapshot' },
      valueChangedAttributes: ['firstname'],
      unknownPreviousAttributes: [],
    };
    const enriched = { ...event, data: { ...event.data, $bridge: section } };
    expect(toChange(enriched).change).toMatchObject({
      changedAttributes: ['firstname'],
      previousValues: { firstname: 'Jim' },
      valueChangedAttributes: ['firstname'],
      unknownPreviousAttributes: [],
    });
    const plain = toChange(event).change;
    expect(plain).not.toHaveProperty('previousValues');
    expect(plain).not.toHaveProperty('valueChangedAttributes');
    for (const bad of ['text', null, [], { valueChangedAttributes: 'firstname' }, { previousValues: {} }]) {
      const change = toChange({ ...event, data: { ...event.data, $bridge: bad } }).change;
      expect(change).not.toHaveProperty('valueChangedAttributes');
    }
  });

  it('keeps the user and correlation fields', () => {
    expect(toChange(eventOf({})).change).toMatchObject({ userId: USER_ID, initiatingUserId: USER_ID });
  });
});

describe('toChange: events that are not ours', () => {
  it('rejects another type, saying how to filter the subscription', () => {
    const error = rejection({
      specversion: '1.0',
      id: 'blob-1',
      source: '/subscriptions/x/storage',
      type: 'Microsoft.Storage.BlobCreated',
      time: '2026-01-01T00:00:00Z',
      data: { url: 'https://x.blob.core.windows.net/c/b' },
    });
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.eventId).toBe('blob-1');
    expect(error.code).toBe('UnprojectableEvent');
    expect(error.message).toContain('its type is "Microsoft.Storage.BlobCreated", not one beginning with "dataverse."');
    expect(error.message).toContain('filter its Event Grid subscription on event types beginning with "dataverse."');
  });

  it('rejects data without primaryEntityName, primaryEntityId or messageName, naming the field', () => {
    for (const field of ['primaryEntityName', 'primaryEntityId', 'messageName']) {
      const event = eventOf({});
      delete (event.data as unknown as Record<string, unknown>)[field];
      expect(rejection(event).message).toContain(`its data has no ${field}`);
    }
  });

  it('rejects what is not an event object, an event without id, and an event without a valid time', () => {
    expect(rejection('not json').message).toContain('it is not a JSON object');
    expect(rejection(null).message).toContain('it is not a JSON object');
    const noId = eventOf({}) as unknown as Record<string, unknown>;
    delete noId.id;
    expect(rejection(noId).message).toContain('it has no id');
    const badTime = eventOf({ OperationCreatedOn: null });
    badTime.time = 'yesterday';
    expect(rejection(badTime).message).toContain('it has no valid time');
    const noData = { ...eventOf({}), data: 42 };
    expect(rejection(noData).message).toContain('its data is not a normalized Dataverse context');
  });

  it('rejects names too long to be storage keys', () => {
    expect(rejection(eventOf({ PrimaryEntityName: 'x'.repeat(129) })).message).toContain(
      'data.primaryEntityName is longer than 128 characters',
    );
  });

  it('rejects a table name ListChanges would refuse, so ListTables never lists one', () => {
    for (const table of ['a b', 'acc/ount', 'café', 'contact;drop']) {
      expect(rejection(eventOf({ PrimaryEntityName: table })).message).toContain(
        'its data.primaryEntityName is not a Dataverse table logical name',
      );
    }
  });

  it('keeps the change but no snapshot for a row id that is not a GUID (GetRow takes GUIDs only)', () => {
    // Not from a Dataverse context (the reader requires a GUID), but from any publisher on the topic.
    const event = eventOf({});
    (event.data as unknown as Record<string, unknown>).primaryEntityId = 'not-a-guid';
    const projected = toChange(event);
    expect(projected.change.rowId).toBe('not-a-guid');
    expect(projected.row).toBeUndefined();
  });

  it('accepts the event as JSON text, as some bindings deliver it', () => {
    const event = eventOf({});
    expect(toChange(JSON.stringify(event))).toEqual(toChange(event));
  });
});
