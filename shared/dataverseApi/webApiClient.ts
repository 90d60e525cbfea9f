import { DataverseRequestError } from './errors.js';
import { MetadataCache } from './metadataCache.js';
import type { ApiRequest, ApiResponse, DataverseTransport } from './transport.js';
import type {
  ChangePage,
  ChoiceOption,
  ColumnMetadata,
  DataverseApi,
  ListQuery,
  Row,
  RowChange,
  RowPage,
  TableMetadata,
  TableSummary,
  WhoAmI,
} from './types.js';

const NAME = /^[a-z_][a-z0-9_]{0,127}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The casts that carry options, and the one that carries lookup targets. */
const CHOICE_CASTS = [
  'PicklistAttributeMetadata',
  'StateAttributeMetadata',
  'StatusAttributeMetadata',
  'MultiSelectPicklistAttributeMetadata',
];

/** Options of {@link WebApiClient}. */
export interface WebApiClientOptions {
  /** How long a table definition is kept (default 1 hour). */
  metadataTtlMs?: number;
  now?: () => number;
}

/**
 * The Dataverse Web API v9.2 adapter of {@link DataverseApi}: builds the OData requests and reads the answers;
 * `DataverseTransport` does tokens, timeouts, retries and errors.
 *
 * @example
 * const api = new WebApiClient(new DataverseTransport({ url, credential, timeoutMs: 30_000, retryBudgetMs: 60_000 }));
 * const me = await api.whoAmI();
 */
export class WebApiClient implements DataverseApi {
  readonly url: string;
  private readonly cache: MetadataCache<TableMetadata>;

  constructor(
    private readonly transport: DataverseTransport,
    options: WebApiClientOptions = {},
    private readonly callerObjectId?: string,
    cache?: MetadataCache<TableMetadata>,
  ) {
    this.url = transport.url;
    this.cache = cache ?? new MetadataCache(options.metadataTtlMs ?? 3_600_000, options.now);
  }

  as(callerObjectId: string): DataverseApi {
    if (!GUID.test(callerObjectId)) {
      throw new DataverseRequestError(
        'DataverseBadArgument',
        `The caller object id "${callerObjectId}" is not a GUID.`,
        {
          operation: 'impersonate',
        },
      );
    }
    return new WebApiClient(this.transport, {}, callerObjectId.toLowerCase(), this.cache);
  }

  async whoAmI(): Promise<WhoAmI> {
    const { body } = await this.send({ method: 'GET', path: 'WhoAmI', operation: 'WhoAmI' });
    const answer = body as { UserId?: string; BusinessUnitId?: string; OrganizationId?: string };
    return {
      userId: String(answer.UserId),
      businessUnitId: String(answer.BusinessUnitId),
      organizationId: String(answer.OrganizationId),
    };
  }

  async getTable(logicalName: string): Promise<TableMetadata> {
    name(logicalName, 'table');
    return this.cache.get(logicalName, () => this.loadTable(logicalName));
  }

  async listTables(): Promise<TableSummary[]> {
    const { body } = await this.send({
      method: 'GET',
      path: `EntityDefinitions${query({ $select: 'LogicalName,DisplayName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute' })}`,
      operation: 'GET table definitions',
    });
    return ((body as { value?: Array<Record<string, unknown>> }).value ?? [])
      .map((d) => ({
        logicalName: String(d.LogicalName),
        displayName: labelText(d.DisplayName) || String(d.LogicalName),
        entitySetName: String(d.EntitySetName ?? ''),
        primaryIdAttribute: String(d.PrimaryIdAttribute ?? ''),
        primaryNameAttribute: String(d.PrimaryNameAttribute ?? ''),
      }))
      .sort((a, b) => a.logicalName.localeCompare(b.logicalName));
  }

  async retrieve(table: string, id: string, options: { select?: string[]; annotations?: boolean } = {}): Promise<Row> {
    const { entitySetName } = await this.getTable(table);
    const { body } = await this.send({
      method: 'GET',
      path: `${entitySetName}(${guid(id)})${query({ $select: columns(options.select) })}`,
      headers: options.annotations ? { Prefer: ANNOTATIONS } : {},
      operation: `GET ${table}`,
    });
    return body as Row;
  }

  async list(table: string, q: ListQuery = {}): Promise<RowPage> {
    const { entitySetName } = await this.getTable(table);
    if (q.top !== undefined && (!Number.isInteger(q.top) || q.top < 1 || q.top > 5000)) {
      throw badArgument(`top must be a whole number from 1 to 5000, got ${q.top}`);
    }
    const path = `${entitySetName}${query({
      $select: columns(q.select),
      $filter: q.filter,
      $orderby: q.orderBy?.map(orderItem).join(','),
      $top: q.top?.toString(),
      $count: q.count ? 'true' : undefined,
    })}`;
    const prefer = [pageSize(q.pageSize).Prefer, q.annotations ? ANNOTATIONS : undefined].filter(Boolean).join(',');
    return this.page({ method: 'GET', path, headers: prefer ? { Prefer: prefer } : {}, operation: `GET ${table}` });
  }

  nextPage(nextLink: string, options: { annotations?: boolean } = {}): Promise<RowPage> {
    const headers: Record<string, string> = options.annotations ? { Prefer: ANNOTATIONS } : {};
    return this.page({ method: 'GET', link: nextLink, headers, operation: 'GET nextLink' });
  }

  async create(table: string, data: Record<string, unknown>, options: { returnRow?: boolean } = {}) {
    const { entitySetName } = await this.getTable(table);
    const response = await this.send({
      method: 'POST',
      path: entitySetName,
      body: data,
      headers: options.returnRow ? { Prefer: 'return=representation' } : {},
      operation: `POST ${table}`,
    });
    const id = entityId(response);
    return options.returnRow ? { id, row: response.body as Row } : { id };
  }

  async update(table: string, id: string, data: Record<string, unknown>, options: { etag?: string } = {}) {
    const { entitySetName } = await this.getTable(table);
    // If-Match: * makes PATCH an update only (without it, PATCH creates a missing row).
    await this.send({
      method: 'PATCH',
      path: `${entitySetName}(${guid(id)})`,
      body: data,
      headers: { 'If-Match': options.etag ?? '*' },
      operation: `PATCH ${table}`,
    });
  }

  async upsert(table: string, id: string, data: Record<string, unknown>) {
    const { entitySetName } = await this.getTable(table);
    await this.send({
      method: 'PATCH',
      path: `${entitySetName}(${guid(id)})`,
      body: data,
      operation: `PATCH ${table}`,
    });
  }

  async delete(table: string, id: string, options: { etag?: string } = {}) {
    const { entitySetName } = await this.getTable(table);
    await this.send({
      method: 'DELETE',
      path: `${entitySetName}(${guid(id)})`,
      headers: options.etag ? { 'If-Match': options.etag } : {},
      operation: `DELETE ${table}`,
    });
  }

  async trackChanges(table: string, options: { select?: string[]; pageSize?: number } = {}): Promise<ChangePage> {
    const metadata = await this.getTable(table);
    if (!metadata.changeTrackingEnabled) {
      throw new DataverseRequestError(
        'DataverseChangeTrackingOff',
        `Change tracking is off for ${table}: turn on "Track changes" in the table's properties (Power Apps, Tables, ${table}, Advanced options).`,
        { operation: `GET ${table} changes` },
      );
    }
    const prefer = [
      'odata.track-changes',
      ...(options.pageSize ? [`odata.maxpagesize=${checkPageSize(options.pageSize)}`] : []),
    ];
    return this.changes(
      {
        method: 'GET',
        path: `${metadata.entitySetName}${query({ $select: columns(options.select) })}`,
        headers: { Prefer: prefer.join(',') },
        operation: `GET ${table} changes`,
      },
      metadata.primaryIdAttribute,
    );
  }

  async nextChanges(table: string, link: string): Promise<ChangePage> {
    const { primaryIdAttribute } = await this.getTable(table);
    return this.changes(
      { method: 'GET', link, headers: { Prefer: 'odata.track-changes' }, operation: `GET ${table} changes` },
      primaryIdAttribute,
    );
  }

  private async changes(request: ApiRequest, primaryId: string): Promise<ChangePage> {
    const { body } = await this.send(request);
    const answer = body as {
      value?: Array<Record<string, unknown>>;
      '@odata.nextLink'?: string;
      '@odata.deltaLink'?: string;
    };
    const changes: RowChange[] = (answer.value ?? []).map((entry) => {
      if (typeof entry['@odata.context'] === 'string' && entry['@odata.context'].endsWith('/$deletedEntity')) {
        return { kind: 'delete', id: String(entry.id) };
      }
      return { kind: 'upsert', id: String(entry[primaryId]), row: entry as Row };
    });
    return {
      changes,
      ...(answer['@odata.nextLink'] ? { nextLink: answer['@odata.nextLink'] } : {}),
      ...(answer['@odata.deltaLink'] ? { deltaLink: answer['@odata.deltaLink'] } : {}),
    };
  }

  private async page(request: ApiRequest): Promise<RowPage> {
    const { body } = await this.send(request);
    const answer = body as { value?: Row[]; '@odata.count'?: number; '@odata.nextLink'?: string };
    return {
      rows: answer.value ?? [],
      ...(typeof answer['@odata.count'] === 'number' ? { count: answer['@odata.count'] } : {}),
      ...(answer['@odata.nextLink'] ? { nextLink: answer['@odata.nextLink'] } : {}),
    };
  }

  private async loadTable(logicalName: string): Promise<TableMetadata> {
    const entity = `EntityDefinitions(LogicalName='${logicalName}')`;
    const operation = `GET ${logicalName} definition`;
    const attributes =
      'LogicalName,DisplayName,AttributeType,RequiredLevel,IsValidForCreate,IsValidForUpdate,IsValidForRead';
    // The base definition with every column, then the lookup targets and the choice options, which only the derived
    // attribute types carry, and the many-to-one relationships, which name the navigation property each lookup is set
    // through: one request each, all at once.
    const [main, lookups, relationships, ...choices] = await Promise.all([
      this.send({
        method: 'GET',
        path: `${entity}${query({
          $select:
            'LogicalName,DisplayName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled',
          $expand: `Attributes($select=${attributes})`,
        })}`,
        operation,
      }),
      this.send({
        method: 'GET',
        path: `${entity}/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata${query({ $select: 'LogicalName,Targets' })}`,
        operation,
      }),
      this.send({
        method: 'GET',
        path: `${entity}/ManyToOneRelationships${query({ $select: 'ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName' })}`,
        operation,
      }),
      ...CHOICE_CASTS.map((cast) =>
        this.send({
          method: 'GET',
          path: `${entity}/Attributes/Microsoft.Dynamics.CRM.${cast}${query({ $select: 'LogicalName', $expand: 'OptionSet($select=Options)' })}`,
          operation,
        }),
      ),
    ]);
    const definition = main.body as Record<string, unknown> & { Attributes?: Array<Record<string, unknown>> };
    const targets = new Map<string, string[]>();
    for (const item of (lookups.body as { value?: Array<{ LogicalName: string; Targets?: string[] }> }).value ?? []) {
      targets.set(item.LogicalName, item.Targets ?? []);
    }
    const navigation = new Map<string, Record<string, string>>();
    for (const item of (
      relationships.body as {
        value?: Array<{
          ReferencingAttribute?: string;
          ReferencedEntity?: string;
          ReferencingEntityNavigationPropertyName?: string;
        }>;
      }
    ).value ?? []) {
      const { ReferencingAttribute: column, ReferencedEntity: target } = item;
      const name = item.ReferencingEntityNavigationPropertyName;
      if (!column || !target || !name) continue;
      navigation.set(column, { ...navigation.get(column), [target]: name });
    }
    const options = new Map<string, ChoiceOption[]>();
    for (const response of choices) {
      for (const item of (
        response.body as { value?: Array<{ LogicalName: string; OptionSet?: { Options?: unknown[] } }> }
      ).value ?? []) {
        options.set(
          item.LogicalName,
          (item.OptionSet?.Options ?? []).map((o) => {
            const option = o as { Value: number; Label?: unknown };
            return { value: option.Value, label: labelText(option.Label) };
          }),
        );
      }
    }
    const columns: ColumnMetadata[] = (definition.Attributes ?? []).map((a) => {
      const column = String(a.LogicalName);
      return {
        logicalName: column,
        displayName: labelText(a.DisplayName) || column,
        type: String(a.AttributeType),
        requiredLevel: String((a.RequiredLevel as { Value?: string } | undefined)?.Value ?? 'None'),
        validForCreate: a.IsValidForCreate === true,
        validForUpdate: a.IsValidForUpdate === true,
        validForRead: a.IsValidForRead === true,
        ...(targets.has(column) ? { targets: targets.get(column) as string[] } : {}),
        ...(navigation.has(column) ? { navigation: navigation.get(column) as Record<string, string> } : {}),
        ...(options.has(column) ? { options: options.get(column) as ChoiceOption[] } : {}),
      };
    });
    return {
      logicalName: String(definition.LogicalName),
      displayName: labelText(definition.DisplayName) || logicalName,
      entitySetName: String(definition.EntitySetName),
      primaryIdAttribute: String(definition.PrimaryIdAttribute),
      primaryNameAttribute: String(definition.PrimaryNameAttribute ?? ''),
      changeTrackingEnabled: definition.ChangeTrackingEnabled === true,
      columns,
    };
  }

  private send(request: ApiRequest): Promise<ApiResponse> {
    if (!this.callerObjectId) return this.transport.send(request);
    return this.transport.send({ ...request, headers: { ...request.headers, CallerObjectId: this.callerObjectId } });
  }
}

/** Formatted values and lookup target tables come back only when asked for. */
const ANNOTATIONS = 'odata.include-annotations="*"';

function labelText(label: unknown): string {
  const l = label as
    | { UserLocalizedLabel?: { Label?: string } | null; LocalizedLabels?: Array<{ Label?: string }> }
    | undefined;
  return l?.UserLocalizedLabel?.Label ?? l?.LocalizedLabels?.[0]?.Label ?? '';
}

function query(options: Record<string, string | undefined>): string {
  const parts = Object.entries(options)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(
      ([key, value]) =>
        `${key}=${encodeURIComponent(value).replace(/%2C/g, ',').replace(/%24/g, '$').replace(/%3D/g, '=').replace(/%28/g, '(').replace(/%29/g, ')')}`,
    );
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function columns(select: string[] | undefined): string | undefined {
  if (!select) return undefined;
  for (const column of select) name(column, 'column');
  return select.join(',');
}

function orderItem(item: string): string {
  const match = /^([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?$/i.exec(item.trim());
  if (!match) throw badArgument(`orderBy items are "<column> [asc|desc]", got "${item}"`);
  return match[2] ? `${match[1]} ${match[2].toLowerCase()}` : (match[1] as string);
}

function pageSize(size: number | undefined): Record<string, string> {
  return size === undefined ? {} : { Prefer: `odata.maxpagesize=${checkPageSize(size)}` };
}

function checkPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > 5000)
    throw badArgument(`pageSize must be a whole number from 1 to 5000, got ${size}`);
  return size;
}

function name(value: string, what: 'table' | 'column'): void {
  if (!NAME.test(value)) throw badArgument(`"${value}" is not a ${what} logical name (lower-case letters, digits, _)`);
}

function guid(id: string): string {
  if (!GUID.test(id)) throw badArgument(`the row id "${id}" is not a GUID`);
  return id.toLowerCase();
}

function badArgument(message: string): DataverseRequestError {
  return new DataverseRequestError('DataverseBadArgument', `Not sent to Dataverse: ${message}.`, {
    operation: 'validate',
  });
}

/** The id from `OData-EntityId` (`…/accounts(<id>)`), or from the returned row. */
function entityId(response: ApiResponse): string {
  const header = response.headers.get('odata-entityid') ?? '';
  const id = /\(([0-9a-f-]{36})\)\s*$/i.exec(header)?.[1];
  if (id) return id.toLowerCase();
  throw new DataverseRequestError(
    'DataverseUnexpectedAnswer',
    'Dataverse created the row but sent no OData-EntityId header.',
    {
      operation: 'POST',
      status: response.status,
    },
  );
}
