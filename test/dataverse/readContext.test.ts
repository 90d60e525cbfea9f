import { describe, expect, it } from 'vitest';
import { readContext } from '../../shared/dataverse/index.js';
import {
  dataContractJson,
  entity,
  kv,
  ORG_ID,
  ROW_ID,
  rawContext,
  reference,
  typed,
  USER_ID,
} from '../helpers/contexts.js';

const ACCOUNT_ID = 'b76b3f4b-1be7-e611-8101-e0071b6af231';

/** Reads a context whose Target attributes are the given raw values, and returns the normalized attributes. */
function attributesOf(attributes: Record<string, unknown>): Record<string, unknown> {
  const body = rawContext({ InputParameters: kv({ Target: typed('Entity', entity('contact', ROW_ID, attributes)) }) });
  const target = readContext(dataContractJson(body)).inputParameters.Target as { attributes: Record<string, unknown> };
  return target.attributes;
}

describe('readContext: the top level', () => {
  it('camelCases every context property and fills the derived fields', () => {
    const context = readContext(JSON.stringify(rawContext()));
    expect(context).toEqual({
      messageName: 'Update',
      primaryEntityName: 'contact',
      primaryEntityId: ROW_ID,
      secondaryEntityName: 'none',
      stage: 40,
      mode: 1,
      depth: 1,
      isolationMode: 1,
      operationId: '4af10637-4ea2-e711-8122-000d3aa2331c',
      operationCreatedOn: '2017-09-26T07:04:08.000Z',
      requestId: null,
      correlationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
      organizationId: ORG_ID,
      organizationName: 'contoso',
      businessUnitId: 'e2b9dd85-e89e-e711-8122-000d3aa2331c',
      userId: USER_ID,
      initiatingUserId: USER_ID,
      userAzureActiveDirectoryObjectId: null,
      initiatingUserAzureActiveDirectoryObjectId: null,
      initiatingUserAgent: null,
      isExecutingOffline: false,
      isInTransaction: false,
      isOfflinePlayback: false,
      owningExtension: {
        logicalName: 'sdkmessageprocessingstep',
        id: '75417616-4ea2-e711-8122-000d3aa2331c',
        name: 'Update of contact',
      },
      inputParameters: {
        Target: {
          logicalName: 'contact',
          id: ROW_ID,
          attributes: { firstname: 'James' },
          formattedValues: {},
          keyAttributes: {},
          rowVersion: null,
        },
      },
      outputParameters: {},
      sharedVariables: {},
      preEntityImages: {},
      postEntityImages: {},
      parentContext: null,
      changedAttributes: ['firstname'],
      messageMaxSizeExceeded: false,
      organizationUrl: null,
    });
  });

  it('keeps unknown top-level keys, camelCased, so newer schema versions lose nothing', () => {
    const context = readContext(
      JSON.stringify(rawContext({ IsPortalsClientCall: true, AuthenticatedUserId: USER_ID, URLReferrer: 'x' })),
    );
    expect(context.isPortalsClientCall).toBe(true);
    expect(context.authenticatedUserId).toBe(USER_ID);
    expect(context.urlReferrer).toBe('x');
  });

  it('treats missing optional keys as null or empty, as older and oversized messages omit them', () => {
    const body = rawContext();
    for (const key of [
      'InputParameters',
      'PreEntityImages',
      'ParentContext',
      'OperationId',
      'Stage',
      'OwningExtension',
    ]) {
      delete body[key];
    }
    const context = readContext(JSON.stringify(body));
    expect(context.inputParameters).toEqual({});
    expect(context.preEntityImages).toEqual({});
    expect(context.parentContext).toBeNull();
    expect(context.operationId).toBeNull();
    expect(context.stage).toBeNull();
    expect(context.owningExtension).toBeNull();
    expect(context.changedAttributes).toEqual([]);
  });

  it('lists changedAttributes only for Update, in Target order', () => {
    const target = typed('Entity', entity('contact', ROW_ID, { lastname: 'Glynn', firstname: 'James' }));
    const update = readContext(JSON.stringify(rawContext({ InputParameters: kv({ Target: target }) })));
    expect(update.changedAttributes).toEqual(['lastname', 'firstname']);
    const create = readContext(
      JSON.stringify(rawContext({ MessageName: 'Create', InputParameters: kv({ Target: target }) })),
    );
    expect(create.changedAttributes).toEqual([]);
  });

  it('normalizes ParentContext recursively, with its own changedAttributes', () => {
    const parent = rawContext({
      Stage: 30,
      InputParameters: kv({
        Target: typed('Entity', entity('contact', ROW_ID, { lastname: 'Glynn' })),
        SuppressDuplicateDetection: false,
      }),
      ParentContext: rawContext({ MessageName: 'Create', Depth: 0 }),
    });
    const context = readContext(JSON.stringify(rawContext({ ParentContext: parent })));
    expect(context.parentContext?.stage).toBe(30);
    expect(context.parentContext?.inputParameters.SuppressDuplicateDetection).toBe(false);
    expect(context.parentContext?.changedAttributes).toEqual(['lastname']);
    expect(context.parentContext?.parentContext?.messageName).toBe('Create');
    expect(context.parentContext?.parentContext?.depth).toBe(0);
  });

  it('reads escaped (\\/) and unescaped forms the same way', () => {
    const body = rawContext();
    expect(readContext(dataContractJson(body))).toEqual(readContext(JSON.stringify(body)));
  });

  it('accepts a Buffer, a string, an ArrayBuffer and an already-parsed object alike', () => {
    const body = rawContext();
    const text = JSON.stringify(body);
    const bytes = Buffer.from(text);
    const expected = readContext(body);
    expect(readContext(text)).toEqual(expected);
    expect(readContext(bytes)).toEqual(expected);
    expect(readContext(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))).toEqual(expected);
  });

  it('drops a UTF-8 byte order mark, in bytes and in text', () => {
    const text = JSON.stringify(rawContext());
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    expect(readContext(withBom).messageName).toBe('Update');
    expect(readContext(`\uFEFF${text}`).messageName).toBe('Update');
  });

  it('decodes the charset the content type declares', () => {
    const body = rawContext({ OrganizationName: 'Ģārūmžīmēšč' });
    const utf16 = Buffer.from(JSON.stringify(body), 'utf16le');
    expect(readContext(utf16, { contentType: 'application/json; charset=utf-16le' }).organizationName).toBe(
      'Ģārūmžīmēšč',
    );
  });

  it('converts an ISO OperationCreatedOn (plug-in side serializers) to UTC', () => {
    const context = readContext(JSON.stringify(rawContext({ OperationCreatedOn: '2024-12-10T08:43:27.963+02:00' })));
    expect(context.operationCreatedOn).toBe('2024-12-10T06:43:27.963Z');
  });
});

describe('readContext: values', () => {
  it('turns DataContract dates into ISO 8601 UTC, with or without an offset', () => {
    expect(
      attributesOf({
        plain: '/Date(1506384247000)/',
        withNegativeOffset: '/Date(1506409448000-0700)/',
        withPositiveOffset: '/Date(1724647396000+0300)/',
        beforeEpoch: '/Date(-62135596800000)/',
      }),
    ).toEqual({
      plain: '2017-09-26T00:04:07.000Z',
      withNegativeOffset: '2017-09-26T07:04:08.000Z',
      withPositiveOffset: '2024-08-26T04:43:16.000Z',
      beforeEpoch: '0001-01-01T00:00:00.000Z',
    });
  });

  it('leaves strings that only look like dates alone', () => {
    expect(attributesOf({ a: '/Date(abc)/', b: '/path/to', c: '2020-12-15T05:47:38+01:00' })).toEqual({
      a: '/Date(abc)/',
      b: '/path/to',
      c: '2020-12-15T05:47:38+01:00',
    });
  });

  it('unwraps OptionSetValue, Money, BooleanManagedProperty and AliasedValue', () => {
    expect(
      attributesOf({
        statuscode: typed('OptionSetValue', { Value: 1 }),
        revenue: typed('Money', { Value: 2154.32 }),
        iscustomizable: typed('BooleanManagedProperty', {
          CanBeChanged: true,
          ManagedPropertyLogicalName: 'x',
          Value: false,
        }),
        'a.name': typed('AliasedValue', {
          AttributeLogicalName: 'name',
          EntityLogicalName: 'account',
          Value: 'Contoso',
        }),
        'a.revenue': typed('AliasedValue', {
          AttributeLogicalName: 'revenue',
          EntityLogicalName: 'account',
          Value: typed('Money', { Value: 10 }),
        }),
      }),
    ).toEqual({ statuscode: 1, revenue: 2154.32, iscustomizable: false, 'a.name': 'Contoso', 'a.revenue': 10 });
  });

  it('turns a multi-select choice into an array of numbers', () => {
    const choices = [typed('OptionSetValue', { Value: 257760001 }), typed('OptionSetValue', { Value: 257760002 })];
    expect(attributesOf({ colors: choices })).toEqual({ colors: [257760001, 257760002] });
  });

  it('reads an EntityReference, adding keyAttributes only when there are some', () => {
    const withKeys = { ...reference('account', ACCOUNT_ID, 'Contoso'), KeyAttributes: kv({ accountnumber: 'A-1' }) };
    expect(attributesOf({ parent: reference('account', ACCOUNT_ID), keyed: withKeys })).toEqual({
      parent: { logicalName: 'account', id: ACCOUNT_ID, name: null },
      keyed: { logicalName: 'account', id: ACCOUNT_ID, name: 'Contoso', keyAttributes: { accountnumber: 'A-1' } },
    });
  });

  it('turns an EntityCollection (untyped entities inside) into an array of entities', () => {
    const party = entity('activityparty', ACCOUNT_ID, { participationtypemask: typed('OptionSetValue', { Value: 1 }) });
    const collection = typed('EntityCollection', {
      Entities: [party],
      EntityName: 'activityparty',
      MinActiveRowVersion: '-1',
      MoreRecords: false,
      PagingCookie: null,
      TotalRecordCount: -1,
      TotalRecordCountLimitExceeded: false,
    });
    const image = entity('task', ROW_ID, { from: collection }, { RowVersion: '5948260' });
    const context = readContext(dataContractJson(rawContext({ PreEntityImages: kv({ Image: image }) })));
    expect(context.preEntityImages).toEqual({
      Image: {
        logicalName: 'task',
        id: ROW_ID,
        attributes: {
          from: [
            {
              logicalName: 'activityparty',
              id: ACCOUNT_ID,
              attributes: { participationtypemask: 1 },
              formattedValues: {},
              keyAttributes: {},
              rowVersion: null,
            },
          ],
        },
        formattedValues: {},
        keyAttributes: {},
        rowVersion: '5948260',
      },
    });
  });

  it('reads Associate: a Relationship and an EntityReferenceCollection', () => {
    const body = rawContext({
      MessageName: 'Associate',
      InputParameters: kv({
        Target: reference('account', ACCOUNT_ID),
        Relationship: typed('Relationship', { PrimaryEntityRole: null, SchemaName: 'account_primary_contact' }),
        RelatedEntities: [reference('contact', ROW_ID), reference('contact', USER_ID)],
      }),
    });
    expect(readContext(dataContractJson(body)).inputParameters).toEqual({
      Target: { logicalName: 'account', id: ACCOUNT_ID, name: null },
      Relationship: { primaryEntityRole: null, schemaName: 'account_primary_contact', $type: 'Relationship' },
      RelatedEntities: [
        { logicalName: 'contact', id: ROW_ID, name: null },
        { logicalName: 'contact', id: USER_ID, name: null },
      ],
    });
  });

  it('reads a QueryExpression inside ParentContext as a typed object', () => {
    const query = typed('QueryExpression', {
      ColumnSet: { AllColumns: false, Columns: ['name', 'sitecollectionid'] },
      Criteria: {
        Conditions: [{ AttributeName: 'statecode', Operator: 0, Values: [0] }],
        FilterOperator: 0,
        Filters: [],
      },
      Distinct: false,
      EntityName: 'sharepointsite',
      NoLock: false,
      PageInfo: { Count: 0, PageNumber: 0, PagingCookie: null, ReturnTotalRecordCount: false },
    });
    const parent = rawContext({ MessageName: 'RetrieveMultiple', InputParameters: kv({ Query: query }) });
    const context = readContext(dataContractJson(rawContext({ ParentContext: parent })));
    expect(context.parentContext?.inputParameters.Query).toEqual({
      columnSet: { allColumns: false, columns: ['name', 'sitecollectionid'] },
      criteria: {
        conditions: [{ attributeName: 'statecode', operator: 0, values: [0] }],
        filterOperator: 0,
        filters: [],
      },
      distinct: false,
      entityName: 'sharepointsite',
      noLock: false,
      pageInfo: { count: 0, pageNumber: 0, pagingCookie: null, returnTotalRecordCount: false },
      $type: 'QueryExpression',
    });
  });

  it('keys RelatedEntities by relationship schema name when an entity carries them', () => {
    const related = typed('EntityCollection', { Entities: [entity('contact', ROW_ID, {})] });
    const target = typed(
      'Entity',
      entity(
        'account',
        ACCOUNT_ID,
        {},
        {
          RelatedEntities: [
            { key: { PrimaryEntityRole: null, SchemaName: 'contact_customer_accounts' }, value: related },
          ],
        },
      ),
    );
    const context = readContext(
      dataContractJson(rawContext({ MessageName: 'Create', InputParameters: kv({ Target: target }) })),
    );
    const account = context.inputParameters.Target as { relatedEntities?: Record<string, { id: string }[]> };
    expect(account.relatedEntities?.contact_customer_accounts?.map((row) => row.id)).toEqual([ROW_ID]);
  });

  it('turns a list of KeyValuePairOfstringstring into an object', () => {
    const pairs = ['feedback', 'contract'].map((key) => ({
      __type: 'KeyValuePairOfstringstring:#System.Collections.Generic',
      key,
      value: 'Update',
    }));
    const context = readContext(JSON.stringify(rawContext({ SharedVariables: kv({ ChangedEntityTypes: pairs }) })));
    expect(context.sharedVariables).toEqual({ ChangedEntityTypes: { feedback: 'Update', contract: 'Update' } });
  });

  it('unwraps {"__type": "…:#System", "__value": …} primitives', () => {
    expect(
      attributesOf({
        accountid: { __type: 'Guid:#System', __value: ACCOUNT_ID },
        modifiedon: { __type: 'DateTime:#System', __value: '/Date(1527757524000)/' },
      }),
    ).toEqual({ accountid: ACCOUNT_ID, modifiedon: '2018-05-31T09:05:24.000Z' });
  });

  it('keeps numbers, booleans, nulls, strings and arrays of plain values as they are', () => {
    expect(attributesOf({ n: 1.5, i: 0, b: true, z: null, s: 'a\nb', list: ['ABC', 'DEF'], empty: [] })).toEqual({
      n: 1.5,
      i: 0,
      b: true,
      z: null,
      s: 'a\nb',
      list: ['ABC', 'DEF'],
      empty: [],
    });
  });

  it('never lets a key change an object prototype', () => {
    const context = readContext(
      '{"MessageName":"Update","PrimaryEntityName":"contact","PrimaryEntityId":"6d81597f-0f9f-e711-8122-000d3aa2331c",' +
        '"OrganizationId":"4ef5b371-e89e-e711-8122-000d3aa2331c","SharedVariables":[{"key":"__proto__","value":{"polluted":true}}]}',
    );
    expect(Object.getPrototypeOf(context.sharedVariables)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(context.sharedVariables)).toEqual(['__proto__']);
  });
});

describe('readContext: transport facts', () => {
  it('reads MessageMaxSizeExceeded and the organization from Service Bus application properties', () => {
    const context = readContext(JSON.stringify(rawContext({ InputParameters: undefined })), {
      contentType: 'application/json',
      applicationProperties: {
        MessageMaxSizeExceeded: true,
        'http://schemas.microsoft.com/xrm/2011/Claims/Organization': 'contoso.crm.dynamics.com',
      },
    });
    expect(context.messageMaxSizeExceeded).toBe(true);
    expect(context.organizationUrl).toBe('https://contoso.crm.dynamics.com');
  });

  it('reads the webhook headers, whatever their case, from a record or a Headers object', () => {
    const fromRecord = readContext(JSON.stringify(rawContext()), {
      headers: { 'X-MS-Dynamics-Organization': 'contoso.crm4.dynamics.com', 'x-ms-dynamics-msg-size-exceeded': 'true' },
    });
    expect(fromRecord.organizationUrl).toBe('https://contoso.crm4.dynamics.com');
    expect(fromRecord.messageMaxSizeExceeded).toBe(true);
    const fromHeaders = readContext(JSON.stringify(rawContext()), {
      headers: new Headers({ 'x-ms-dynamics-organization': 'https://contoso.crm.dynamics.com/' }),
    });
    expect(fromHeaders.organizationUrl).toBe('https://contoso.crm.dynamics.com');
    expect(fromHeaders.messageMaxSizeExceeded).toBe(false);
  });

  it('reads the size flag under the camelCased name the Functions host passes in trigger metadata', () => {
    const context = readContext(JSON.stringify(rawContext()), {
      applicationProperties: { messageMaxSizeExceeded: 'True' },
    });
    expect(context.messageMaxSizeExceeded).toBe(true);
  });

  it('treats "false" and "0" flags as not exceeded, and an unusable organization as unknown', () => {
    const context = readContext(JSON.stringify(rawContext()), {
      applicationProperties: {
        MessageMaxSizeExceeded: 'False',
        'http://schemas.microsoft.com/xrm/2011/Claims/Organization': 'not a host name',
      },
    });
    expect(context.messageMaxSizeExceeded).toBe(false);
    expect(context.organizationUrl).toBeNull();
  });
});
