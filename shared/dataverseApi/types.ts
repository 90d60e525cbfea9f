/**
 * The port through which the bridge reads and writes Dataverse: what the connector's row operations, the enrichment of
 * truncated contexts, the verification of sync posts, change-tracking reconciliation and step registration use. The
 * Web API adapter (`webApiClient.ts`) implements it; tests run it against the local double in `test/doubles/`.
 */

/** `WhoAmI`: who the bridge is in the environment. */
export interface WhoAmI {
  /** The systemuser id of the caller: the application user, or the impersonated user. */
  userId: string;
  businessUnitId: string;
  organizationId: string;
}

/** A choice (option set) value with its label in the user's language. */
export interface ChoiceOption {
  value: number;
  label: string;
}

/** A column's definition, from `EntityDefinitions(...)/Attributes`. */
export interface ColumnMetadata {
  logicalName: string;
  displayName: string;
  /** `AttributeType`: `String`, `Lookup`, `Picklist`, `DateTime`, … */
  type: string;
  /** `None`, `SystemRequired`, `ApplicationRequired` or `Recommended`. */
  requiredLevel: string;
  validForCreate: boolean;
  validForUpdate: boolean;
  validForRead: boolean;
  /** Lookup columns: the tables it may point to. */
  targets?: string[];
  /**
   * Lookup columns: the single-valued navigation property that sets the lookup to a row of each target table (what
   * `<navigation>@odata.bind` names), from the table's many-to-one relationships
   * (`ReferencingEntityNavigationPropertyName`); case-sensitive, e.g. `parentcustomerid_account` or `cr6d1_SponsorId`.
   */
  navigation?: Record<string, string>;
  /** Choice columns (choice, status, state, multi-select): the options. */
  options?: ChoiceOption[];
}

/** A table's definition, from `EntityDefinitions(LogicalName='…')`. */
export interface TableMetadata {
  logicalName: string;
  displayName: string;
  /** The Web API collection name, e.g. `accounts`. */
  entitySetName: string;
  primaryIdAttribute: string;
  primaryNameAttribute: string;
  changeTrackingEnabled: boolean;
  columns: ColumnMetadata[];
}

/** A row as the Web API returns it; `@odata.etag` is kept for conditional updates. */
export type Row = Record<string, unknown> & { '@odata.etag'?: string };

/** What to list. `filter` is an OData `$filter` expression passed as is. */
export interface ListQuery {
  select?: string[];
  filter?: string;
  /** e.g. `['name asc', 'createdon desc']`. */
  orderBy?: string[];
  top?: number;
  /** Ask for `@odata.count` (Dataverse caps it at 5,000). */
  count?: boolean;
  /** `Prefer: odata.maxpagesize` (1–5,000). */
  pageSize?: number;
  /** Ask for every annotation (`Prefer: odata.include-annotations="*"`): formatted values, lookup target tables. */
  annotations?: boolean;
}

/** A table as the list of every table shows it (no columns). */
export type TableSummary = Omit<TableMetadata, 'columns' | 'changeTrackingEnabled'>;

/** One page of rows. Pass `nextLink` to `nextPage` for the next one. */
export interface RowPage {
  rows: Row[];
  count?: number;
  nextLink?: string;
}

/** One change from change tracking. */
export type RowChange = { kind: 'upsert'; id: string; row: Row } | { kind: 'delete'; id: string };

/**
 * One page of changes. While `nextLink` is set, more pages of this round follow (`nextChanges(nextLink)`); the last page
 * carries `deltaLink`, to keep and pass to `nextChanges` later for what changed since.
 */
export interface ChangePage {
  changes: RowChange[];
  nextLink?: string;
  deltaLink?: string;
}

/**
 * The Dataverse operations the bridge uses. Tables are named by logical name (`account`); the adapter resolves the
 * entity set from the (cached) table definition. Errors are `DataverseError`s: `transient` says whether retrying can
 * help.
 *
 * @example
 * const api = await getDataverseApi(); // from shared/runtime.ts
 * const { rows } = await api.list('account', { select: ['name'], filter: "statecode eq 0", top: 10 });
 * await api.as(callerObjectId).update('account', id, { name: 'Contoso' }, { etag: rows[0]['@odata.etag'] });
 */
export interface DataverseApi {
  /** The environment URL. */
  readonly url: string;
  /** The same API acting for a user (impersonation by Entra object id, the `CallerObjectId` header). */
  as(callerObjectId: string): DataverseApi;
  whoAmI(): Promise<WhoAmI>;
  /** A table's definition with its columns; cached per instance for a time-to-live, one request in flight per table. */
  getTable(logicalName: string): Promise<TableMetadata>;
  /** Every table of the environment (`EntityDefinitions`), without columns, sorted by logical name. */
  listTables(): Promise<TableSummary[]>;
  /** One row by id; a missing row is a `DataverseError` with status 404. `annotations` as in {@link ListQuery}. */
  retrieve(table: string, id: string, options?: { select?: string[]; annotations?: boolean }): Promise<Row>;
  list(table: string, query?: ListQuery): Promise<RowPage>;
  nextPage(nextLink: string, options?: { annotations?: boolean }): Promise<RowPage>;
  /** Creates a row; returns its id (and the row when `returnRow`). */
  create(
    table: string,
    data: Record<string, unknown>,
    options?: { returnRow?: boolean },
  ): Promise<{ id: string; row?: Row }>;
  /** Updates an existing row (never creates one); with `etag`, only if the row is unchanged since (else 412). */
  update(table: string, id: string, data: Record<string, unknown>, options?: { etag?: string }): Promise<void>;
  /** Creates or updates the row with this id. */
  upsert(table: string, id: string, data: Record<string, unknown>): Promise<void>;
  delete(table: string, id: string, options?: { etag?: string }): Promise<void>;
  /** Starts change tracking on a table: every row now, then a delta link. */
  trackChanges(table: string, options?: { select?: string[]; pageSize?: number }): Promise<ChangePage>;
  /** Follows a change-tracking `nextLink` or `deltaLink` of that table. */
  nextChanges(table: string, link: string): Promise<ChangePage>;
}
