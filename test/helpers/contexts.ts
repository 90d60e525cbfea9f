/** Builders for raw (DataContract JSON) Dataverse values, so tests read like the wire format. */

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';

export const ORG_ID = '4ef5b371-e89e-e711-8122-000d3aa2331c';
export const ROW_ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';
export const USER_ID = '75c2dd85-e89e-e711-8122-000d3aa2331c';

/** `{"__type": "<name>:http://schemas.microsoft.com/xrm/2011/Contracts", ...}` */
export function typed(name: string, body: Record<string, unknown>): Record<string, unknown> {
  return { __type: `${name}:${CONTRACTS}`, ...body };
}

/** `[{key, value}, ...]` from an object. */
export function kv(values: Record<string, unknown>): { key: string; value: unknown }[] {
  return Object.entries(values).map(([key, value]) => ({ key, value }));
}

export function entity(
  logicalName: string,
  id: string,
  attributes: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    Attributes: kv(attributes),
    EntityState: null,
    FormattedValues: [],
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    RelatedEntities: [],
    RowVersion: null,
    ...extra,
  };
}

export function reference(logicalName: string, id: string, name: string | null = null): Record<string, unknown> {
  return typed('EntityReference', {
    Id: id,
    KeyAttributes: [],
    LogicalName: logicalName,
    Name: name,
    RowVersion: null,
  });
}

/** A minimal but complete raw context for an Update of a contact; override any property. */
export function rawContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    BusinessUnitId: 'e2b9dd85-e89e-e711-8122-000d3aa2331c',
    CorrelationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
    Depth: 1,
    InitiatingUserId: USER_ID,
    InputParameters: kv({ Target: typed('Entity', entity('contact', ROW_ID, { firstname: 'James' })) }),
    IsExecutingOffline: false,
    IsInTransaction: false,
    IsOfflinePlayback: false,
    IsolationMode: 1,
    MessageName: 'Update',
    Mode: 1,
    OperationCreatedOn: '/Date(1506409448000-0700)/',
    OperationId: '4af10637-4ea2-e711-8122-000d3aa2331c',
    OrganizationId: ORG_ID,
    OrganizationName: 'contoso',
    OutputParameters: [],
    OwningExtension: {
      Id: '75417616-4ea2-e711-8122-000d3aa2331c',
      KeyAttributes: [],
      LogicalName: 'sdkmessageprocessingstep',
      Name: 'Update of contact',
      RowVersion: null,
    },
    ParentContext: null,
    PostEntityImages: [],
    PreEntityImages: [],
    PrimaryEntityId: ROW_ID,
    PrimaryEntityName: 'contact',
    RequestId: null,
    SecondaryEntityName: 'none',
    SharedVariables: [],
    Stage: 40,
    UserId: USER_ID,
    ...overrides,
  };
}

/** Serializes like DataContractJsonSerializer does: every `/` escaped as `\/`. */
export function dataContractJson(value: unknown): string {
  return JSON.stringify(value).replaceAll('/', '\\/');
}
