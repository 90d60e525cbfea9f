/**
 * A local Dataverse Web API (v9.2) for tests: a small, faithful subset served over plain HTTP on a free port of
 * 127.0.0.1, seeded with tables, columns and rows. It is a test double, not a product: what it does not know it answers
 * with a 501 naming the request, so a test never silently passes against behaviour the real service lacks.
 *
 * What it speaks, and the Microsoft Learn pages (Power Apps, Dataverse developer guide) it follows:
 * - Headers, error bodies `{ "error": { "code": "0x…", "message": "…" } }` and status codes:
 *   "Compose HTTP requests and handle errors" (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors),
 *   "Troubleshoot Dataverse Web API client errors" (https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors:
 *   `0x8006088a` resource not found for the segment, `0x0` could not find a property), and
 *   "Web service error codes" (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes:
 *   `0x80040217` ObjectDoesNotExist, `0x80060882` ConcurrencyVersionMismatch, `0x80040237` DuplicateRecord,
 *   `0x80040220` PrivilegeDenied).
 * - Service protection: "Service protection API limits" (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits):
 *   429 with `Retry-After` in seconds and the codes `0x80072322` (number of requests), `0x80072321` (execution time),
 *   `0x80072326` (concurrent requests). Injected with {@link DataverseDouble.inject} (the next n requests), or on a
 *   share of requests with {@link DataverseDouble.faultPolicy} (the soak's), as are 5xx answers (the error body of
 *   "Compose HTTP requests and handle errors") and requests held past the client's timeout.
 * - `GET WhoAmI`: "WhoAmI Function" (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami)
 *   and "Use the Web API" (`{ BusinessUnitId, UserId, OrganizationId }`).
 * - Table and column definitions: "Query table definitions using the Web API"
 *   (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api) and "Retrieve table
 *   definitions by name or MetadataId" (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-metadata-name-metadataid):
 *   `EntityDefinitions(LogicalName='x')` with `$select` and `$expand=Attributes($select=…)`, labels as
 *   `{ LocalizedLabels, UserLocalizedLabel }`, `RequiredLevel: { Value }`, and the casts
 *   `Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata` (`Targets`) and
 *   `…/PicklistAttributeMetadata`, `StateAttributeMetadata`, `StatusAttributeMetadata`,
 *   `MultiSelectPicklistAttributeMetadata` with `$expand=OptionSet($select=Options)`.
 * - Lookup relationships: `EntityDefinitions(LogicalName='x')/ManyToOneRelationships` with `$select`, one
 *   `OneToManyRelationshipMetadata` per lookup column and target table (`ReferencingAttribute`, `ReferencedEntity`,
 *   `ReferencingEntityNavigationPropertyName`, …): "EntityMetadata EntityType" (its `ManyToOneRelationships`
 *   collection, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata),
 *   "OneToManyRelationshipMetadata EntityType" (…/webapi/reference/onetomanyrelationshipmetadata) and "Web API
 *   navigation properties" (…/webapi/web-api-navigation-properties: a lookup is set through the single-valued
 *   navigation property the relationship names, case-sensitive; a multi-table lookup such as a customer has one per
 *   target, `parentcustomerid_account` and `parentcustomerid_contact`; a custom lookup's is its schema name, e.g.
 *   `cr6d1_SponsorId`). `<navigation>@odata.bind` is accepted only under that name and only to a row of that table.
 * - Rows: "Retrieve a table row using the Web API" (…/webapi/retrieve-entity-using-web-api), "Query data using the Web
 *   API" (…/webapi/query/overview: `$select`, `$filter`, `$orderby`, `$top`, `$count=true` → `@odata.count`), "Page
 *   results using OData" (…/webapi/query/page-results: `Prefer: odata.maxpagesize=n`, `Preference-Applied`,
 *   `@odata.nextLink` with an opaque `$skiptoken`), "Create a table row using the Web API"
 *   (…/webapi/create-entity-using-web-api: 204 + `OData-EntityId`, or 201 with the row for `Prefer: return=representation`),
 *   "Update and delete table rows using the Web API" (…/webapi/update-delete-entities-using-web-api: PATCH upserts
 *   unless `If-Match: *`; `If-None-Match: *` prevents an update; DELETE), "Perform conditional operations using the
 *   Web API" (…/webapi/perform-conditional-operations-using-web-api: `@odata.etag` `W/"<version>"`, `If-Match` → 412).
 * - Change tracking: "Use change tracking to synchronize data with external systems"
 *   (https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems):
 *   `Prefer: odata.track-changes` → `@odata.deltaLink` with `$deltatoken`, following it returns new and updated rows
 *   then `$deletedEntity` entries `{ "@odata.context": "…/$metadata#<set>/$deletedEntity", id, reason: "deleted" }`;
 *   `$filter`, `$orderby`, `$expand` and `$top` are refused with the documented message.
 * - Impersonation: "Impersonate another user using the Web API"
 *   (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/impersonate-another-user-web-api): the
 *   `CallerObjectId` (Entra object id) and `MSCRMCallerID` (systemuser id) headers, recorded per request.
 * - Authentication: a bearer token checked by the caller-supplied verifier (the Entra double's), 401 with
 *   `WWW-Authenticate: Bearer error="invalid_token"` when it is missing, invalid or expired; an app without an
 *   application user gets 403 "The user is not a member of the organization." (code as commonly reported,
 *   `0x80072560`). Without a verifier (local mode) every request is accepted as {@link DataverseDouble.defaultUserId}.
 *
 * Filter subset (documented, small): comparisons `<column> eq|ne|gt|ge|lt|le <literal>` joined by `and` (no `or`, no
 * parentheses), and `contains|startswith|endswith(<column>,'text')`; literals are 'strings' (with '' escapes),
 * numbers, true, false, null and GUIDs. Anything else is a 400 `0x80060888` syntax error.
 * - Expired delta tokens ({@link DataverseDouble.expireDeltaTokens}): 400 with `0x80044352` ExpiredVersionStamp,
 *   "Version stamp associated with the client has expired. Please perform a full sync." (the code and message the
 *   Dataverse SDK's `ErrorCodes.ExpiredVersionStamp` documents, as "Web service error codes" lists it).
 * - System columns: a table seeded with a `modifiedon` (or `versionnumber`) column has it maintained on every write,
 *   `modifiedon` at whole seconds as Dataverse stores date-times ("Behavior and format of the date and time column").
 * Not served: `$expand` on rows, `$batch`, alternate keys, FetchXML, actions and functions other than WhoAmI.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { close, listen, readBody } from './http.js';

/** Column types the double knows, as `AttributeType` values. */
export type ColumnType =
  | 'String'
  | 'Memo'
  | 'Integer'
  | 'BigInt'
  | 'Decimal'
  | 'Double'
  | 'Money'
  | 'Boolean'
  | 'DateTime'
  | 'Uniqueidentifier'
  | 'Lookup'
  | 'Customer'
  | 'Owner'
  | 'Picklist'
  | 'State'
  | 'Status'
  | 'Virtual';

/** A column to seed. `options` are for choice columns; `targets` for lookups. */
export interface ColumnSeed {
  logicalName: string;
  type: ColumnType;
  displayName?: string;
  requiredLevel?: 'None' | 'SystemRequired' | 'ApplicationRequired' | 'Recommended';
  validForCreate?: boolean;
  validForUpdate?: boolean;
  validForRead?: boolean;
  targets?: string[];
  options?: Array<{ value: number; label: string }>;
  /** For `Virtual` columns: a multi-select choice (`MultiSelectPicklistAttributeMetadata`). */
  multiSelect?: boolean;
  /**
   * For lookups: the navigation property of each target table, where it is not Dataverse's usual name (the column's
   * own name for one target, `<column>_<target>` for several), e.g. `{ account: 'cr6d1_SponsorId' }`.
   */
  navigation?: Record<string, string>;
}

/** A table to seed. Its primary id column (`<logicalName>id`) is added when not listed. */
export interface TableSeed {
  logicalName: string;
  entitySetName?: string;
  displayName?: string;
  primaryIdAttribute?: string;
  primaryNameAttribute?: string;
  changeTracking?: boolean;
  columns: ColumnSeed[];
}

/** One request as the double saw it (no token: only whether one was sent and accepted). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  kind: RequestKind;
  status: number;
  callerObjectId?: string;
  mscrmCallerId?: string;
  prefer?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  bearer: boolean;
  /** The application (client) id of the token, when authentication is on. */
  appId?: string;
}

export type RequestKind =
  | 'whoAmI'
  | 'metadata'
  | 'retrieve'
  | 'list'
  | 'changes'
  | 'create'
  | 'update'
  | 'delete'
  | 'other';

/** A fault to answer instead of serving the request. */
export type Fault =
  | { kind: 'throttle'; retryAfterSeconds: number; code?: '0x80072322' | '0x80072321' | '0x80072326' }
  | { kind: 'status'; status: 500 | 502 | 503 | 504 }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'expiredToken' };

interface PendingFault {
  fault: Fault;
  remaining: number;
  match?: (request: { method: string; path: string; kind: RequestKind }) => boolean;
}

interface Row {
  data: Record<string, unknown>;
  version: number;
}

interface Table extends Required<Omit<TableSeed, 'columns' | 'displayName'>> {
  displayName: string;
  columns: Map<string, ColumnSeed>;
  rows: Map<string, Row>;
  /** Deleted ids with the version of their deletion, for change tracking. */
  tombstones: Array<{ id: string; version: number }>;
}

type Literal = string | number | boolean | null;
type Condition =
  | { op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; column: string; value: Literal }
  | { op: 'contains' | 'startswith' | 'endswith'; column: string; value: string };

/** A Dataverse answer error, thrown inside handlers and written as the documented error body. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API = '/api/data/v9.2/';
const CHOICE_CASTS: Record<string, (c: ColumnSeed) => boolean> = {
  PicklistAttributeMetadata: (c) => c.type === 'Picklist',
  StateAttributeMetadata: (c) => c.type === 'State',
  StatusAttributeMetadata: (c) => c.type === 'Status',
  MultiSelectPicklistAttributeMetadata: (c) => c.type === 'Virtual' && c.multiSelect === true,
};

/**
 * The double.
 *
 * @example
 * const dataverse = new DataverseDouble();
 * dataverse.seedTable({ logicalName: 'account', primaryNameAttribute: 'name', columns: [{ logicalName: 'name', type: 'String' }] });
 * await dataverse.start();           // dataverse.url is http://127.0.0.1:<port>
 * dataverse.inject({ kind: 'throttle', retryAfterSeconds: 2 });
 * await dataverse.stop();
 */
export class DataverseDouble {
  readonly organizationId: string = randomUUID();
  readonly businessUnitId: string = randomUUID();
  /** The systemuser id WhoAmI answers when authentication is off. */
  readonly defaultUserId: string = randomUUID();
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = [];
  private readonly tables = new Map<string, Table>();
  private readonly faults: PendingFault[] = [];
  private readonly applicationUsers = new Map<string, string>();
  private version = 1000;
  /** Delta tokens at or below this version are expired (see {@link expireDeltaTokens}). */
  private expiredThrough = 0;
  private server: Server | undefined;
  private port = 0;
  private readonly verifyToken:
    | ((token: string, audience: string) => { claims: { appid: string; oid: string } } | { error: string })
    | undefined;
  private readonly now: () => Date;

  /**
   * @param options.verifyToken checks a bearer token (e.g. `entra.verifyAccessToken.bind(entra)`); without it the
   *   double asks for no token at all, as the bridge's local mode sends none.
   * @param options.now the clock `modifiedon` is read from (default: the system's).
   */
  constructor(
    options: {
      verifyToken?: (token: string, audience: string) => { claims: { appid: string; oid: string } } | { error: string };
      now?: () => Date;
    } = {},
  ) {
    this.verifyToken = options.verifyToken;
    this.now = options.now ?? (() => new Date());
  }

  /** `http://127.0.0.1:<port>`: the environment URL (`DATAVERSE_URL`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests of one kind (or all), for counting. */
  count(kind?: RequestKind): number {
    return kind ? this.requests.filter((r) => r.kind === kind).length : this.requests.length;
  }

  /** Makes an app registration's service principal an application user; returns its systemuser id. */
  addApplicationUser(appId: string, systemUserId: string = randomUUID()): string {
    this.applicationUsers.set(appId, systemUserId);
    return systemUserId;
  }

  /** Entra object ids whose impersonated requests are refused as lacking the privilege (403 `0x80040220`). */
  readonly deniedCallers = new Set<string>();

  /** Answers the next `times` matching requests with a fault instead of serving them. */
  inject(fault: Fault, options: { times?: number; match?: PendingFault['match'] } = {}): void {
    this.faults.push({ fault, remaining: options.times ?? 1, ...(options.match ? { match: options.match } : {}) });
  }

  /**
   * Asked for every request that no {@link inject}ed fault answered: a fault to answer instead, or `undefined` to
   * serve it. For faults on a share of requests (the soak's): e.g. `() => random() < 0.1 ? throttle : undefined`.
   */
  faultPolicy: ((request: { method: string; path: string; kind: RequestKind }) => Fault | undefined) | undefined;

  /**
   * Expires every delta token issued so far, as Dataverse does once a token is older than the organization's retention
   * (7 days by default): following one answers 400 `0x80044352`, and the client must start a full pass.
   */
  expireDeltaTokens(): void {
    this.expiredThrough = this.version;
  }

  /** Adds a table definition (replacing one of the same name). */
  seedTable(seed: TableSeed): void {
    const primaryIdAttribute = seed.primaryIdAttribute ?? `${seed.logicalName}id`;
    const columns = new Map<string, ColumnSeed>();
    columns.set(primaryIdAttribute, {
      logicalName: primaryIdAttribute,
      type: 'Uniqueidentifier',
      displayName: seed.displayName ?? seed.logicalName,
      requiredLevel: 'SystemRequired',
      validForCreate: true,
      validForUpdate: false,
    });
    for (const column of seed.columns) columns.set(column.logicalName, column);
    this.tables.set(seed.logicalName, {
      logicalName: seed.logicalName,
      entitySetName: seed.entitySetName ?? `${seed.logicalName}s`,
      displayName: seed.displayName ?? seed.logicalName,
      primaryIdAttribute,
      primaryNameAttribute: seed.primaryNameAttribute ?? 'name',
      changeTracking: seed.changeTracking ?? false,
      columns,
      rows: new Map(),
      tombstones: [],
    });
  }

  /** Adds rows directly (no request counted); returns their ids. Rows without the primary id get one. */
  seedRows(table: string, rows: Array<Record<string, unknown>>): string[] {
    const t = this.table(table);
    return rows.map((data) => {
      const id = String(data[t.primaryIdAttribute] ?? randomUUID());
      const version = ++this.version;
      t.rows.set(id, { data: this.stamp(t, { ...data, [t.primaryIdAttribute]: id }, version), version });
      return id;
    });
  }

  /**
   * Deletes a row directly (no request counted), leaving the tombstone change tracking reports, as a DELETE does;
   * returns whether the row existed.
   */
  deleteRow(table: string, id: string): boolean {
    const t = this.table(table);
    if (!t.rows.delete(id)) return false;
    t.tombstones.push({ id, version: ++this.version });
    return true;
  }

  /** A row's current values, or undefined (reads the store directly; no request counted). */
  row(table: string, id: string): Record<string, unknown> | undefined {
    return this.table(table).rows.get(id)?.data;
  }

  /** Sets the system columns the table has (`modifiedon`, `versionnumber`) for a write at `version`. */
  private stamp(table: Table, data: Record<string, unknown>, version: number): Record<string, unknown> {
    if (table.columns.has('modifiedon'))
      data.modifiedon = this.now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
    if (table.columns.has('versionnumber')) data.versionnumber = version;
    return data;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) writeError(res, new ApiError(500, '0x80040216', `Unexpected: ${String(error)}`));
      });
    });
    this.port = await listen(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await close(server);
  }

  private table(logicalName: string): Table {
    const table = this.tables.get(logicalName);
    if (!table) throw new Error(`The double has no table ${logicalName}; seed it first.`);
    return table;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const kind = classify(method, path, header('prefer'));
    const record: RecordedRequest = {
      method,
      path,
      query,
      kind,
      status: 0,
      bearer: /^Bearer /i.test(header('authorization') ?? ''),
      ...(header('callerobjectid') ? { callerObjectId: header('callerobjectid') } : {}),
      ...(header('mscrmcallerid') ? { mscrmCallerId: header('mscrmcallerid') } : {}),
      ...(header('prefer') ? { prefer: header('prefer') } : {}),
      ...(header('if-match') ? { ifMatch: header('if-match') } : {}),
      ...(header('if-none-match') ? { ifNoneMatch: header('if-none-match') } : {}),
    };
    this.requests.push(record);
    const body = await readBody(req);

    const pending = this.faults.find((f) => f.remaining > 0 && (!f.match || f.match({ method, path, kind })));
    if (pending) {
      pending.remaining--;
      if (pending.remaining === 0) this.faults.splice(this.faults.indexOf(pending), 1);
    }
    const fault = pending?.fault ?? this.faultPolicy?.({ method, path, kind });
    if (fault) {
      if (fault.kind === 'drop') {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'delay') {
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        if (res.destroyed || req.socket.destroyed) {
          record.status = -1;
          return;
        }
      } else {
        const error = faultError(fault);
        record.status = error.status;
        return writeError(res, error);
      }
    }

    try {
      let userId = this.defaultUserId;
      if (this.verifyToken) {
        const token = /^Bearer (.+)$/i.exec(header('authorization') ?? '')?.[1];
        const checked = token ? this.verifyToken(token, this.url) : { error: 'no token' };
        if ('error' in checked) {
          throw new ApiError(401, '', '', {
            'WWW-Authenticate': `Bearer error="invalid_token", error_description="${checked.error}", authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize`,
          });
        }
        record.appId = checked.claims.appid;
        const appUser = this.applicationUsers.get(checked.claims.appid);
        if (!appUser) throw new ApiError(403, '0x80072560', 'The user is not a member of the organization.');
        userId = appUser;
      }
      const caller = header('callerobjectid');
      if (caller && this.deniedCallers.has(caller.toLowerCase())) {
        throw new ApiError(
          403,
          '0x80040220',
          `Principal user (Id=${caller}, type=8) is missing prvReadAccount privilege (Id=886b280c-6396-4d56-a0a3-2c1b0a50ceb0)`,
        );
      }
      if (!path.startsWith(API)) {
        throw new ApiError(404, '0x8006088a', `Resource not found for the segment '${path}'.`);
      }
      const answer = this.route(method, path.slice(API.length), query, header, body, userId);
      record.status = answer.status;
      res.writeHead(answer.status, {
        'OData-Version': '4.0',
        ...(answer.body !== undefined ? { 'Content-Type': 'application/json; odata.metadata=minimal' } : {}),
        ...answer.headers,
      });
      res.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      record.status = error.status;
      writeError(res, error);
    }
  }

  private route(
    method: string,
    resource: string,
    query: Record<string, string>,
    header: (name: string) => string | undefined,
    body: string,
    userId: string,
  ): Answer {
    const base = `${this.url}${API}`;
    if (method === 'GET' && resource === 'WhoAmI') {
      return ok({
        '@odata.context': `${base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.businessUnitId,
        UserId: userId,
        OrganizationId: this.organizationId,
      });
    }
    if (method === 'GET' && resource === 'EntityDefinitions') return this.tableList(query);
    const relationships = /^EntityDefinitions\(LogicalName='([^']*)'\)\/ManyToOneRelationships$/.exec(resource);
    if (method === 'GET' && relationships) return this.manyToOne(relationships[1] as string, query);
    const metadata =
      /^EntityDefinitions\(LogicalName='([^']*)'\)(\/Attributes\/Microsoft\.Dynamics\.CRM\.(\w+))?$/.exec(resource);
    if (method === 'GET' && metadata) {
      return this.metadata(metadata[1] as string, metadata[3], query);
    }
    const entity = /^([a-z_][a-z0-9_]*)(?:\(([^)]*)\))?$/.exec(resource);
    const table = entity ? [...this.tables.values()].find((t) => t.entitySetName === entity[1]) : undefined;
    if (!entity || !table) {
      const segment = resource.split(/[(/]/)[0];
      if ([...this.tables.values()].some((t) => t.entitySetName === segment)) {
        throw new ApiError(501, '0x80040216', `The test double does not serve ${method} ${resource}.`);
      }
      throw new ApiError(404, '0x8006088a', `Resource not found for the segment '${segment}'.`);
    }
    const key = entity[2];
    if (key !== undefined && !GUID.test(key)) {
      throw new ApiError(400, '0x80060888', `Bad Request - Error in query syntax: invalid key '${key}'.`);
    }
    const prefer = header('prefer') ?? '';
    if (key === undefined) {
      if (method === 'GET') return this.list(table, query, prefer);
      if (method === 'POST') return this.create(table, parseBody(body), prefer, query);
    } else {
      const id = key.toLowerCase();
      if (method === 'GET') return this.retrieve(table, id, query, prefer);
      if (method === 'PATCH') {
        return this.patch(table, id, parseBody(body), header('if-match'), header('if-none-match'), prefer, query);
      }
      if (method === 'DELETE') return this.remove(table, id, header('if-match'));
    }
    throw new ApiError(501, '0x80040216', `The test double does not serve ${method} ${resource}.`);
  }

  /** `GET EntityDefinitions?$select=…`: every table, without columns ("Query table definitions using the Web API"). */
  private tableList(query: Record<string, string>): Answer {
    const value = [...this.tables.values()].map((table) =>
      pick(
        {
          MetadataId: metadataId(table.logicalName, ''),
          LogicalName: table.logicalName,
          EntitySetName: table.entitySetName,
          DisplayName: label(table.displayName),
          PrimaryIdAttribute: table.primaryIdAttribute,
          PrimaryNameAttribute: table.primaryNameAttribute,
        },
        list(query.$select),
        ['MetadataId'],
      ),
    );
    return ok({ '@odata.context': `${this.url}${API}$metadata#EntityDefinitions`, value });
  }

  private metadata(logicalName: string, cast: string | undefined, query: Record<string, string>): Answer {
    const table = this.tables.get(logicalName);
    if (!table) {
      throw new ApiError(404, '0x80040217', `Could not find entity with LogicalName = '${logicalName}'.`);
    }
    const base = `${this.url}${API}`;
    if (cast !== undefined) {
      const select = list(query.$select);
      const filter =
        cast === 'LookupAttributeMetadata'
          ? (c: ColumnSeed) => c.type === 'Lookup' || c.type === 'Customer' || c.type === 'Owner'
          : CHOICE_CASTS[cast];
      if (!filter) throw new ApiError(501, '0x80040216', `The test double does not serve the cast ${cast}.`);
      const expandOptions = /^OptionSet(\(|$)/.test(query.$expand ?? '');
      const value = [...table.columns.values()].filter(filter).map((c) => {
        const full: Record<string, unknown> = {
          LogicalName: c.logicalName,
          MetadataId: metadataId(logicalName, c.logicalName),
          ...(cast === 'LookupAttributeMetadata' ? { Targets: c.targets ?? [] } : {}),
        };
        const picked = pick(full, select, ['MetadataId']);
        if (expandOptions) {
          picked.OptionSet = {
            MetadataId: metadataId(logicalName, `${c.logicalName}_options`),
            Options: (c.options ?? []).map((o) => ({ Value: o.value, Label: label(o.label) })),
          };
        }
        return { '@odata.type': `#Microsoft.Dynamics.CRM.${cast}`, ...picked };
      });
      return ok({
        '@odata.context': `${base}$metadata#EntityDefinitions('${logicalName}')/Attributes/Microsoft.Dynamics.CRM.${cast}`,
        value,
      });
    }
    const full: Record<string, unknown> = {
      MetadataId: metadataId(logicalName, ''),
      LogicalName: table.logicalName,
      SchemaName: table.logicalName,
      EntitySetName: table.entitySetName,
      DisplayName: label(table.displayName),
      PrimaryIdAttribute: table.primaryIdAttribute,
      PrimaryNameAttribute: table.primaryNameAttribute,
      ChangeTrackingEnabled: table.changeTracking,
      IsCustomEntity: table.logicalName.includes('_'),
    };
    const answer: Record<string, unknown> = {
      '@odata.context': `${base}$metadata#EntityDefinitions/$entity`,
      ...pick(full, list(query.$select), ['MetadataId']),
    };
    const expand = /^Attributes(?:\(\$select=([^)]*)\))?$/.exec(query.$expand ?? '');
    if (query.$expand !== undefined && !expand) {
      throw new ApiError(501, '0x80040216', `The test double expands only Attributes, not ${query.$expand}.`);
    }
    if (expand) {
      const select = list(expand[1]);
      answer.Attributes = [...table.columns.values()].map((c) =>
        pick(
          {
            '@odata.type': `#Microsoft.Dynamics.CRM.${attributeMetadataType(c)}`,
            MetadataId: metadataId(logicalName, c.logicalName),
            LogicalName: c.logicalName,
            SchemaName: c.logicalName,
            DisplayName: label(c.displayName ?? c.logicalName),
            AttributeType: c.type,
            AttributeTypeName: { Value: `${c.type}Type` },
            RequiredLevel: {
              Value: c.requiredLevel ?? 'None',
              CanBeChanged: true,
              ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
            },
            IsValidForCreate: c.validForCreate ?? true,
            IsValidForUpdate: c.validForUpdate ?? true,
            IsValidForRead: c.validForRead ?? true,
          },
          select,
          ['@odata.type', 'MetadataId'],
        ),
      );
    }
    return ok(answer);
  }

  /** `GET EntityDefinitions(LogicalName='x')/ManyToOneRelationships?$select=…`: the table's lookups, per target. */
  private manyToOne(logicalName: string, query: Record<string, string>): Answer {
    const table = this.tables.get(logicalName);
    if (!table) {
      throw new ApiError(404, '0x80040217', `Could not find entity with LogicalName = '${logicalName}'.`);
    }
    const value = this.relationships(table).map((r) =>
      pick(
        {
          MetadataId: metadataId(logicalName, r.SchemaName),
          SchemaName: r.SchemaName,
          RelationshipType: 'OneToManyRelationship',
          ReferencedAttribute: r.ReferencedAttribute,
          ReferencedEntity: r.ReferencedEntity,
          ReferencingAttribute: r.ReferencingAttribute,
          ReferencingEntity: logicalName,
          ReferencedEntityNavigationPropertyName: r.SchemaName,
          ReferencingEntityNavigationPropertyName: r.ReferencingEntityNavigationPropertyName,
        },
        list(query.$select),
        ['MetadataId'],
      ),
    );
    return ok({
      '@odata.context': `${this.url}${API}$metadata#EntityDefinitions('${logicalName}')/ManyToOneRelationships`,
      value,
    });
  }

  /** One many-to-one relationship per lookup column and target table, named as Dataverse names them. */
  private relationships(table: Table) {
    return [...table.columns.values()].filter(isLookup).flatMap((column) => {
      const targets = column.targets ?? [];
      return targets.map((target) => ({
        SchemaName: `${target}_${table.logicalName}_${column.logicalName}`,
        ReferencedEntity: target,
        ReferencedAttribute: this.tables.get(target)?.primaryIdAttribute ?? `${target}id`,
        ReferencingAttribute: column.logicalName,
        ReferencingEntityNavigationPropertyName:
          column.navigation?.[target] ?? (targets.length > 1 ? `${column.logicalName}_${target}` : column.logicalName),
      }));
    });
  }

  private retrieve(table: Table, id: string, query: Record<string, string>, prefer = ''): Answer {
    const row = table.rows.get(id);
    if (!row) throw notFound(table, id);
    const select = this.select(table, query.$select);
    return ok(
      {
        '@odata.context': `${this.url}${API}$metadata#${table.entitySetName}(${select?.join(',') ?? ''})/$entity`,
        ...this.shape(table, row, select, annotated(prefer)),
      },
      { ETag: etag(row.version) },
    );
  }

  private list(table: Table, query: Record<string, string>, prefer: string): Answer {
    const tracking = /\bodata\.track-changes\b/.test(prefer);
    const delta = query.$deltatoken;
    if (tracking || delta !== undefined) {
      for (const option of ['$filter', '$orderby', '$expand', '$top']) {
        if (query[option] !== undefined) {
          throw new ApiError(
            400,
            '0x80040203',
            `The "${option}" query parameter isn't supported when Change Tracking is enabled.`,
          );
        }
      }
      if (!table.changeTracking) {
        throw new ApiError(
          400,
          '0x80040203',
          `Change tracking is not enabled for entity '${table.logicalName}'. Enable Track changes on the table.`,
        );
      }
    }
    const select = this.select(table, query.$select);
    const pageSize = Math.min(5000, Number(/odata\.maxpagesize=(\d+)/.exec(prefer)?.[1] ?? 5000));
    const skip = query.$skiptoken ? Number(Buffer.from(query.$skiptoken, 'base64url').toString('utf8')) : 0;
    const base = `${this.url}${API}`;
    const context = `${base}$metadata#${table.entitySetName}${select ? `(${select.join(',')})` : ''}`;

    let entries: Array<Record<string, unknown>>;
    if (delta !== undefined) {
      const since = Number(/^(\d+)!/.exec(delta)?.[1] ?? Number.NaN);
      if (!Number.isFinite(since)) throw new ApiError(400, '0x80040203', `The delta token '${delta}' is not valid.`);
      if (since <= this.expiredThrough) {
        throw new ApiError(
          400,
          '0x80044352',
          'Version stamp associated with the client has expired. Please perform a full sync.',
        );
      }
      const changed = [...table.rows.values()].filter((r) => r.version > since).sort((a, b) => a.version - b.version);
      entries = [
        ...changed.map((r) => this.shape(table, r, select)),
        ...table.tombstones
          .filter((t) => t.version > since && !table.rows.has(t.id))
          .map((t) => ({
            '@odata.context': `${base}$metadata#${table.entitySetName}/$deletedEntity`,
            id: t.id,
            reason: 'deleted',
          })),
      ];
    } else {
      const conditions = parseFilter(query.$filter, (column) => this.knowsColumn(table, column));
      let rows = [...table.rows.values()].filter((r) => conditions.every((c) => matches(c, r.data[c.column])));
      rows = order(rows, query.$orderby, (column) => this.knowsColumn(table, column));
      if (query.$top !== undefined) {
        const top = Number(query.$top);
        if (!Number.isInteger(top) || top < 0)
          throw new ApiError(400, '0x80060888', `Invalid value for $top: '${query.$top}'.`);
        rows = rows.slice(0, top);
      }
      entries = rows.map((r) => this.shape(table, r, select, annotated(prefer)));
    }
    const page = entries.slice(skip, skip + pageSize);
    const more = skip + pageSize < entries.length;
    const answer: Record<string, unknown> = {
      '@odata.context': delta !== undefined ? `${context}/$delta` : context,
      ...(query.$count === 'true' ? { '@odata.count': Math.min(entries.length, 5000) } : {}),
      value: page,
    };
    if (more) {
      const next = { ...query, $skiptoken: Buffer.from(String(skip + pageSize)).toString('base64url') };
      answer['@odata.nextLink'] = `${base}${table.entitySetName}?${link(next)}`;
    } else if (tracking || delta !== undefined) {
      const delta = {
        ...(query.$select ? { $select: query.$select } : {}),
        $deltatoken: `${this.version}!${new Date().toISOString()}`,
      };
      answer['@odata.deltaLink'] = `${base}${table.entitySetName}?${link(delta)}`;
    }
    const applied = [
      ...(/odata\.maxpagesize=\d+/.test(prefer) ? [`odata.maxpagesize=${pageSize}`] : []),
      ...(tracking ? ['odata.track-changes'] : []),
    ];
    return ok(answer, applied.length > 0 ? { 'Preference-Applied': applied.join(',') } : {});
  }

  private create(table: Table, data: Record<string, unknown>, prefer: string, query: Record<string, string>): Answer {
    this.checkColumns(table, data, 'create');
    data = this.bind(table, data);
    const id = String(data[table.primaryIdAttribute] ?? randomUUID()).toLowerCase();
    if (table.rows.has(id)) {
      throw new ApiError(412, '0x80040237', 'A record with matching key values already exists.');
    }
    const version = ++this.version;
    const row = { data: this.stamp(table, { ...data, [table.primaryIdAttribute]: id }, version), version };
    table.rows.set(id, row);
    return this.written(table, id, row, prefer, query, 201);
  }

  private patch(
    table: Table,
    id: string,
    data: Record<string, unknown>,
    ifMatch: string | undefined,
    ifNoneMatch: string | undefined,
    prefer: string,
    query: Record<string, string>,
  ): Answer {
    const existing = table.rows.get(id);
    if (!existing) {
      // An upsert creates the row unless If-Match forbids it.
      if (ifMatch !== undefined) throw notFound(table, id);
      this.checkColumns(table, data, 'create');
      const version = ++this.version;
      const row = {
        data: this.stamp(table, { ...this.bind(table, data), [table.primaryIdAttribute]: id }, version),
        version,
      };
      table.rows.set(id, row);
      return this.written(table, id, row, prefer, query, 201);
    }
    if (ifNoneMatch === '*') throw new ApiError(412, '0x80040237', 'A record with matching key values already exists.');
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing.version)) {
      throw new ApiError(
        412,
        '0x80060882',
        "The version of the existing record doesn't match the RowVersion property provided.",
      );
    }
    this.checkColumns(table, data, 'update');
    existing.version = ++this.version;
    existing.data = this.stamp(
      table,
      { ...existing.data, ...this.bind(table, data), [table.primaryIdAttribute]: id },
      existing.version,
    );
    return this.written(table, id, existing, prefer, query, 200);
  }

  private remove(table: Table, id: string, ifMatch: string | undefined): Answer {
    const existing = table.rows.get(id);
    if (!existing) throw notFound(table, id);
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing.version)) {
      throw new ApiError(
        412,
        '0x80060882',
        "The version of the existing record doesn't match the RowVersion property provided.",
      );
    }
    table.rows.delete(id);
    table.tombstones.push({ id, version: ++this.version });
    return { status: 204, headers: {} };
  }

  private written(
    table: Table,
    id: string,
    row: Row,
    prefer: string,
    query: Record<string, string>,
    representationStatus: number,
  ): Answer {
    const entityId = `${this.url}${API}${table.entitySetName}(${id})`;
    if (/\breturn=representation\b/.test(prefer)) {
      const select = this.select(table, query.$select);
      return {
        status: representationStatus,
        headers: { 'OData-EntityId': entityId, ETag: etag(row.version), 'Preference-Applied': 'return=representation' },
        body: {
          '@odata.context': `${this.url}${API}$metadata#${table.entitySetName}/$entity`,
          ...this.shape(table, row, select),
        },
      };
    }
    return { status: 204, headers: { 'OData-EntityId': entityId } };
  }

  private checkColumns(table: Table, data: Record<string, unknown>, operation: 'create' | 'update'): void {
    for (const name of Object.keys(data)) {
      if (name.startsWith('@') || name.includes('@odata.bind')) continue;
      const column = table.columns.get(name);
      if (!column) {
        throw new ApiError(
          400,
          '0x0',
          `The property '${name}' does not exist on type 'Microsoft.Dynamics.CRM.${table.logicalName}'. Make sure to only use property names that are defined by the type.`,
        );
      }
      const allowed = operation === 'create' ? (column.validForCreate ?? true) : (column.validForUpdate ?? true);
      if (!allowed && name !== table.primaryIdAttribute) {
        throw new ApiError(
          400,
          '0x80048d19',
          `Error identified in Payload provided by the user for Entity :'${table.logicalName}'. The column '${name}' is not valid for ${operation}.`,
        );
      }
    }
  }

  /**
   * `<navigation>@odata.bind: "/<set>(<id>)"` sets the lookup, read back as `_<lookup>_value` ("Associate table rows
   * on create" and "Lookup properties", https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-using-web-api
   * and …/webapi/web-api-properties); `null` clears it ("Associate and disassociate table rows using the Web API",
   * …/webapi/associate-disassociate-entities-using-web-api).
   */
  private bind(table: Table, data: Record<string, unknown>): Record<string, unknown> {
    const bound: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(data)) {
      const navigation = /^(.+)@odata\.bind$/.exec(name)?.[1];
      if (navigation === undefined) {
        bound[name] = value;
        continue;
      }
      // Navigation property names are case-sensitive.
      const relationship = this.relationships(table).find(
        (r) => r.ReferencingEntityNavigationPropertyName === navigation,
      );
      if (relationship && value === null) {
        // "To disassociate, set the value to null" (Associate and disassociate table rows using the Web API).
        bound[`_${relationship.ReferencingAttribute}_value`] = null;
        bound[`_${relationship.ReferencingAttribute}_value${LOOKUP_TABLE}`] = null;
        continue;
      }
      const target = /^\/?([a-z_][a-z0-9_]*)\(([0-9a-f-]{36})\)$/i.exec(String(value));
      if (!relationship || !target) {
        throw new ApiError(
          400,
          '0x80060888',
          `An undeclared property '${navigation}' which only has property annotations in the payload but no property value was found in the payload.`,
        );
      }
      const targetTable = [...this.tables.values()].find((t) => t.entitySetName === target[1]);
      if (targetTable && targetTable.logicalName !== relationship.ReferencedEntity) {
        // A navigation property binds rows of its own table only (the message is the double's own).
        throw new ApiError(
          400,
          '0x80060888',
          `The navigation property '${navigation}' refers to ${relationship.ReferencedEntity} rows, not to '${target[1]}'.`,
        );
      }
      const column = relationship.ReferencingAttribute;
      bound[`_${column}_value`] = (target[2] as string).toLowerCase();
      if (targetTable) bound[`_${column}_value${LOOKUP_TABLE}`] = targetTable.logicalName;
    }
    return bound;
  }

  private knowsColumn(table: Table, column: string): void {
    const lookup = /^_(.+)_value$/.exec(column)?.[1];
    if (lookup !== undefined && isLookup(table.columns.get(lookup))) return;
    if (!table.columns.has(column)) {
      throw new ApiError(
        400,
        '0x0',
        `Could not find a property named '${column}' on type 'Microsoft.Dynamics.CRM.${table.logicalName}'.`,
      );
    }
  }

  private select(table: Table, text: string | undefined): string[] | undefined {
    const columns = list(text);
    for (const column of columns ?? []) this.knowsColumn(table, column);
    return columns;
  }

  /**
   * With `Prefer: odata.include-annotations="*"` ("Formatted values" and "Lookup properties",
   * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values and
   * …/webapi/web-api-properties#lookup-properties): `<column>@OData.Community.Display.V1.FormattedValue` for choices
   * (the label), yes/no and lookups (the primary name of the row it points to), and
   * `_<lookup>_value@Microsoft.Dynamics.CRM.lookuplogicalname` (the table it points to).
   */
  private annotate(table: Table, shaped: Record<string, unknown>, row: Row): void {
    for (const [name, value] of Object.entries(shaped)) {
      if (value === null || value === undefined || name.startsWith('@')) continue;
      const lookup = /^_(.+)_value$/.exec(name)?.[1];
      const column = table.columns.get(lookup ?? name);
      if (!column) continue;
      if (lookup !== undefined && isLookup(column)) {
        const targetName = (row.data[`${name}${LOOKUP_TABLE}`] as string | undefined) ?? column.targets?.[0];
        const target = targetName ? this.tables.get(targetName) : undefined;
        if (!targetName) continue;
        shaped[`${name}${LOOKUP_TABLE}`] = targetName;
        const primaryName = target?.rows.get(String(value))?.data[target.primaryNameAttribute];
        if (primaryName !== undefined) shaped[`${name}${FORMATTED}`] = String(primaryName);
      } else if (column.options) {
        const option = column.options.find((o) => o.value === value);
        if (option) shaped[`${name}${FORMATTED}`] = option.label;
      } else if (column.type === 'Boolean') {
        shaped[`${name}${FORMATTED}`] = value === true ? 'Yes' : 'No';
      }
    }
  }

  private shape(table: Table, row: Row, select: string[] | undefined, annotations = false): Record<string, unknown> {
    // Lookups read as `_<name>_value`; columns not valid for read (secrets such as `saskey`) are never returned.
    const names =
      select ??
      [...table.columns.values()]
        .filter((c) => c.validForRead !== false)
        .map((c) => (isLookup(c) ? `_${c.logicalName}_value` : c.logicalName));
    const shaped: Record<string, unknown> = { '@odata.etag': etag(row.version) };
    for (const name of names)
      shaped[name] = table.columns.get(name)?.validForRead === false ? null : (row.data[name] ?? null);
    shaped[table.primaryIdAttribute] = row.data[table.primaryIdAttribute];
    if (annotations) this.annotate(table, shaped, row);
    return shaped;
  }
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

function ok(body: unknown, headers: Record<string, string> = {}): Answer {
  return { status: 200, headers, body };
}

const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
const LOOKUP_TABLE = '@Microsoft.Dynamics.CRM.lookuplogicalname';

function annotated(prefer: string): boolean {
  return /odata\.include-annotations="?\*"?/.test(prefer);
}

function isLookup(column: ColumnSeed | undefined): boolean {
  return column?.type === 'Lookup' || column?.type === 'Customer' || column?.type === 'Owner';
}

function notFound(table: Table, id: string): ApiError {
  return new ApiError(404, '0x80040217', `${table.logicalName} With Id = ${id} Does Not Exist`);
}

function faultError(fault: Exclude<Fault, { kind: 'drop' } | { kind: 'delay' }>): ApiError {
  if (fault.kind === 'throttle') {
    const code = fault.code ?? '0x80072322';
    const message =
      code === '0x80072322'
        ? 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'
        : code === '0x80072321'
          ? 'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.'
          : 'Number of concurrent requests exceeded the limit of 52.';
    return new ApiError(429, code, message, { 'Retry-After': String(fault.retryAfterSeconds) });
  }
  if (fault.kind === 'expiredToken') {
    return new ApiError(401, '', '', {
      'WWW-Authenticate':
        'Bearer error="invalid_token", error_description="Error identified in Payload provided by the user for Entity :\'\', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.IdentityModel.Tokens.SecurityTokenExpiredException: IDX10223: Lifetime validation failed. The token is expired."',
    });
  }
  return new ApiError(fault.status, '0x80040216', `An unexpected error occurred (${fault.status}).`);
}

/** 401s carry no body (the reason is in `WWW-Authenticate`); every other error carries the documented body. */
function writeError(res: ServerResponse, error: ApiError): void {
  const withBody = error.status !== 401;
  res.writeHead(error.status, {
    'OData-Version': '4.0',
    ...(withBody ? { 'Content-Type': 'application/json; odata.metadata=minimal' } : {}),
    ...error.headers,
  });
  res.end(withBody ? JSON.stringify({ error: { code: error.code, message: error.message } }) : undefined);
}

function classify(method: string, path: string, prefer: string | undefined): RequestKind {
  const resource = path.startsWith(API) ? path.slice(API.length) : path;
  if (resource === 'WhoAmI') return 'whoAmI';
  if (resource.startsWith('EntityDefinitions')) return 'metadata';
  if (method === 'POST') return 'create';
  if (method === 'PATCH') return 'update';
  if (method === 'DELETE') return 'delete';
  if (method !== 'GET') return 'other';
  if (/\(/.test(resource)) return 'retrieve';
  return /odata\.track-changes/.test(prefer ?? '') || path.includes('$deltatoken') ? 'changes' : 'list';
}

/** A query string the way Dataverse writes its links: option names as is (`$skiptoken`), values escaped. */
function link(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
}

function etag(version: number): string {
  return `W/"${version}"`;
}

function label(text: string) {
  const localized = {
    Label: text,
    LanguageCode: 1033,
    IsManaged: true,
    MetadataId: randomUUID() as string,
    HasChanged: null,
  };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

function metadataId(table: string, column: string): string {
  // Stable per name, shaped like a GUID.
  const hex = Buffer.from(`${table}/${column}`).toString('hex').padEnd(32, '0').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function attributeMetadataType(column: ColumnSeed): string {
  if (column.type === 'Virtual' && column.multiSelect) return 'MultiSelectPicklistAttributeMetadata';
  const names: Partial<Record<ColumnType, string>> = {
    Customer: 'LookupAttributeMetadata',
    Owner: 'LookupAttributeMetadata',
    Uniqueidentifier: 'UniqueIdentifierAttributeMetadata',
    Memo: 'MemoAttributeMetadata',
  };
  return names[column.type] ?? `${column.type}AttributeMetadata`;
}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function pick(full: Record<string, unknown>, select: string[] | undefined, always: string[]): Record<string, unknown> {
  if (!select) return full;
  const picked: Record<string, unknown> = {};
  for (const name of [...always, ...select]) {
    if (!(name in full)) {
      throw new ApiError(
        400,
        '0x0',
        `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.`,
      );
    }
    picked[name] = full[name];
  }
  return picked;
}

function parseBody(body: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApiError(400, '0x80040216', 'The request body is not a JSON object.');
}

/** Parses the documented filter subset; throws the syntax error Dataverse gives for anything else. */
export function parseFilter(text: string | undefined, knowsColumn: (column: string) => void): Condition[] {
  if (text === undefined || text.trim() === '') return [];
  const syntax = () => new ApiError(400, '0x80060888', `Syntax error at position 0 in '${text}'.`);
  const parts = text.split(/\s+and\s+/i);
  return parts.map((part) => {
    const fn = /^\s*(contains|startswith|endswith)\(\s*([a-z_][a-z0-9_]*)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$/i.exec(part);
    if (fn) {
      knowsColumn(fn[2] as string);
      return {
        op: (fn[1] as string).toLowerCase() as 'contains',
        column: fn[2] as string,
        value: (fn[3] as string).replace(/''/g, "'"),
      };
    }
    const cmp = /^\s*([a-z_][a-z0-9_]*)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$/i.exec(part);
    if (!cmp) throw syntax();
    knowsColumn(cmp[1] as string);
    const raw = cmp[3] as string;
    let value: Literal;
    if (/^'((?:[^']|'')*)'$/.test(raw)) value = raw.slice(1, -1).replace(/''/g, "'");
    else if (raw === 'null') value = null;
    else if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (GUID.test(raw)) value = raw.toLowerCase();
    // Edm.DateTimeOffset literals are unquoted; stored ISO strings of the same form compare in time order.
    else if (/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z$/.test(raw)) value = raw;
    else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
    else throw syntax();
    return { op: (cmp[2] as string).toLowerCase() as 'eq', column: cmp[1] as string, value };
  });
}

function matches(condition: Condition, actual: unknown): boolean {
  const value = condition.value;
  switch (condition.op) {
    case 'contains':
      return typeof actual === 'string' && actual.toLowerCase().includes(String(value).toLowerCase());
    case 'startswith':
      return typeof actual === 'string' && actual.toLowerCase().startsWith(String(value).toLowerCase());
    case 'endswith':
      return typeof actual === 'string' && actual.toLowerCase().endsWith(String(value).toLowerCase());
    case 'eq':
      return normalize(actual) === normalize(value);
    case 'ne':
      return normalize(actual) !== normalize(value);
    default: {
      if (actual === null || actual === undefined || value === null) return false;
      const a = actual as number | string;
      const b = value as number | string;
      return condition.op === 'gt' ? a > b : condition.op === 'ge' ? a >= b : condition.op === 'lt' ? a < b : a <= b;
    }
  }
}

function normalize(value: unknown): unknown {
  if (value === undefined) return null;
  return typeof value === 'string' ? value.toLowerCase() : value;
}

function order(rows: Row[], text: string | undefined, knowsColumn: (column: string) => void): Row[] {
  if (text === undefined) return rows;
  const keys = (list(text) ?? []).map((item) => {
    const [column, direction = 'asc'] = item.split(/\s+/) as [string, string?];
    knowsColumn(column);
    if (!/^(asc|desc)$/i.test(direction)) throw new ApiError(400, '0x80060888', `Syntax error in $orderby '${text}'.`);
    return { column, sign: direction.toLowerCase() === 'desc' ? -1 : 1 };
  });
  return [...rows].sort((x, y) => {
    for (const { column, sign } of keys) {
      const a = x.data[column] as string | number | null | undefined;
      const b = y.data[column] as string | number | null | undefined;
      if (a === b) continue;
      // Nulls sort first ascending, as SQL Server orders them.
      if (a === null || a === undefined) return -sign;
      if (b === null || b === undefined) return sign;
      return a < b ? -sign : sign;
    }
    return 0;
  });
}
