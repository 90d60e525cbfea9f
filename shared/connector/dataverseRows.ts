/**
 * The connector's Dataverse operations (`/api/dataverse/…`): tables and columns from metadata, and rows listed,
 * read, created, updated and deleted through the Dataverse Web API client, acting as the caller. Rows travel in a
 * plain shape makers can fill in and read (see README "Rows in the connector"):
 *
 * - a lookup is written `{ "parentcustomerid": { "table": "account", "id": "…" } }` and sent as
 *   `"parentcustomerid_account@odata.bind": "/accounts(…)"`, through the navigation property the table's many-to-one
 *   relationship to that target names (`ReferencingEntityNavigationPropertyName`, from metadata: custom lookups are
 *   bound by their schema name, e.g. `cr6d1_SponsorId`); it is read back as `{ "id", "table", "name" }` from
 *   `_parentcustomerid_value` and its annotations; `null` clears it (`<navigation>@odata.bind: null`, for a
 *   multi-table lookup the navigation property of the table it points to now, read first);
 * - a choice is written as its number and read as `{ "value", "label" }` (the formatted value);
 * - everything else is the Web API's own JSON value.
 *
 * Errors are the connector's error shape with a `target`: Dataverse's own message for a bad filter (400), a missing
 * privilege (403), an unknown table or row (404), a changed row (412), throttling (429 with `Retry-After`), and 503
 * when Dataverse cannot be reached.
 */

import { isDataverseError } from '../dataverseApi/errors.js';
import { CHOICE_TYPES, LOOKUP_TABLE, LOOKUP_TYPES, plainRow } from '../dataverseApi/plainRow.js';
import type { ColumnMetadata, DataverseApi, TableMetadata } from '../dataverseApi/types.js';
import { eventTargetSchema, NUMBER_TYPES } from './eventSchema.js';
import { type ApiResponse, apiError } from './responses.js';
import type { RowSchemaPurpose, Schema } from './schemas.js';

/** A table in the list of tables. */
export interface DataverseTableView {
  logicalName: string;
  displayName: string;
  entitySetName: string;
  primaryIdColumn: string;
  primaryNameColumn: string;
}

/** A column, as `ListDataverseColumns` answers it. */
export type DataverseColumnView = Omit<ColumnMetadata, 'validForRead' | 'navigation'>;

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,127}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const API_PATH = '/api/data/v9.2/';

/** `GET /api/dataverse/tables`: every table of the environment, sorted by logical name. */
export async function listDataverseTables(api: DataverseApi): Promise<ApiResponse> {
  return run(async () => {
    const tables = await api.listTables();
    const value: DataverseTableView[] = tables.map((t) => ({
      logicalName: t.logicalName,
      displayName: t.displayName,
      entitySetName: t.entitySetName,
      primaryIdColumn: t.primaryIdAttribute,
      primaryNameColumn: t.primaryNameAttribute,
    }));
    return { status: 200, jsonBody: { value } };
  });
}

/** `GET /api/dataverse/tables/{table}/columns`: the table's columns, readable ones, sorted by logical name. */
export async function listDataverseColumns(api: DataverseApi, table: string): Promise<ApiResponse> {
  const bad = checkTable(table);
  if (bad) return bad;
  return run(async () => {
    const metadata = await api.getTable(table);
    const value = [...metadata.columns]
      .filter((c) => c.validForRead || c.validForCreate || c.validForUpdate)
      .sort((a, b) => a.logicalName.localeCompare(b.logicalName))
      .map(columnView);
    return { status: 200, jsonBody: { value } };
  });
}

/**
 * `GET /api/dataverse/tables/{table}/schema?purpose=read|create|update`: `{ schema }`, the JSON schema of the
 * table's rows typed from column metadata (the designer's `x-ms-dynamic-schema` source).
 */
export async function getDataverseTableSchema(api: DataverseApi, table: string, url: URL): Promise<ApiResponse> {
  const bad = checkTable(table);
  if (bad) return bad;
  const purpose = url.searchParams.get('purpose') ?? 'read';
  if (!['read', 'create', 'update'].includes(purpose)) {
    return apiError(400, 'InvalidParameter', 'purpose must be read, create, update or event.', 'purpose');
  }
  return run(async () => {
    const metadata = await api.getTable(table);
    return { status: 200, jsonBody: { schema: rowSchema(metadata, purpose as RowSchemaPurpose) } };
  });
}

/**
 * `GET /api/dataverse/tables/{table}/schema?purpose=event`: `{ schema }`, the row an event of the webhook trigger
 * carries (its `inputParameters.Target`) typed for the table (`eventSchema.ts`). It reads table definitions with the
 * app's identity, as `ListTables` (the trigger's table dropdown) does: no row is read, and a trigger on a function-key
 * connection is typed too. Without a Dataverse environment (`api` undefined), the untyped Target, so the designer
 * still gets an answer for a table seen in events.
 */
export async function getEventSchema(api: DataverseApi | undefined, table: string): Promise<ApiResponse> {
  const bad = checkTable(table);
  if (bad) return bad;
  if (!api) return { status: 200, jsonBody: { schema: eventTargetSchema() } };
  return run(async () => ({ status: 200, jsonBody: { schema: eventTargetSchema(await api.getTable(table)) } }));
}

/**
 * The schema of a table's rows in the plain shape of this module: a property per column the purpose can use, typed
 * from its metadata (text, whole and decimal numbers, money, dates, yes/no, choices with labels, lookups), labelled
 * with its display name.
 */
export function rowSchema(metadata: TableMetadata, purpose: RowSchemaPurpose): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  if (purpose === 'read') {
    properties.id = { type: 'string', format: 'uuid', description: 'The id of the row.', 'x-ms-summary': 'Row ID' };
    properties.etag = {
      type: 'string',
      description: 'The version of the row, for If-Match.',
      'x-ms-summary': 'Row ETag',
    };
  }
  for (const column of [...metadata.columns].sort((a, b) => a.logicalName.localeCompare(b.logicalName))) {
    const usable =
      purpose === 'read' ? column.validForRead : purpose === 'create' ? column.validForCreate : column.validForUpdate;
    if (!usable || (purpose === 'read' && column.logicalName === metadata.primaryIdAttribute)) continue;
    const schema = columnSchema(column, purpose === 'read');
    if (!schema) continue;
    properties[column.logicalName] = schema;
    const mandatory = column.requiredLevel === 'SystemRequired' || column.requiredLevel === 'ApplicationRequired';
    if (purpose === 'create' && mandatory && column.logicalName !== metadata.primaryIdAttribute) {
      required.push(column.logicalName);
    }
  }
  return { type: 'object', ...(required.length > 0 ? { required } : {}), properties };
}

function columnSchema(column: ColumnMetadata, read: boolean): Schema | undefined {
  const schema = typedColumn(column, read);
  // Dataverse answers null for an empty column.
  return schema && read ? { ...schema, 'x-nullable': true } : schema;
}

function typedColumn(column: ColumnMetadata, read: boolean): Schema | undefined {
  const label = {
    description: `${column.displayName} (${column.logicalName}, ${column.type}).`,
    'x-ms-summary': column.displayName,
  };
  if (column.type === 'String' || column.type === 'Memo' || column.type === 'EntityName')
    return { type: 'string', ...label };
  if (NUMBER_TYPES[column.type]) return { ...NUMBER_TYPES[column.type], ...label, 'x-nullable': true };
  if (column.type === 'Boolean') return { type: 'boolean', ...label };
  if (column.type === 'DateTime') return { type: 'string', format: 'date-time', ...label };
  if (column.type === 'Uniqueidentifier') return { type: 'string', format: 'uuid', ...label };
  if (CHOICE_TYPES.has(column.type)) {
    const options = column.options ?? [];
    if (!read) {
      return {
        type: 'integer',
        format: 'int32',
        ...(options.length > 0 ? { enum: options.map((o) => o.value) } : {}),
        ...label,
        ...(options.length > 0
          ? { 'x-ms-enum-values': options.map((o) => ({ value: o.value, displayName: o.label })) }
          : {}),
      };
    }
    return {
      type: 'object',
      properties: {
        value: {
          type: 'integer',
          format: 'int32',
          description: 'The number of the option.',
          'x-ms-summary': `${column.displayName} Value`,
        },
        label: {
          type: 'string',
          description: 'The label of the option.',
          'x-ms-summary': `${column.displayName} Label`,
          'x-nullable': true,
        },
      },
      ...label,
      'x-nullable': true,
    };
  }
  if (LOOKUP_TYPES.has(column.type)) {
    const targets = column.targets ?? [];
    const table: Schema = {
      type: 'string',
      ...(targets.length > 0 && !read ? { enum: targets } : {}),
      description: `The table of the row: ${targets.join(', ')}.`,
      'x-ms-summary': `${column.displayName} Table`,
    };
    const id: Schema = {
      type: 'string',
      format: 'uuid',
      description: 'The id of the row.',
      'x-ms-summary': `${column.displayName} ID`,
    };
    // null clears the lookup on update (and leaves it empty on create).
    if (!read) return { type: 'object', required: ['id'], properties: { table, id }, ...label, 'x-nullable': true };
    return {
      type: 'object',
      properties: {
        id,
        table,
        name: {
          type: 'string',
          description: 'The primary name of the row.',
          'x-ms-summary': `${column.displayName} Name`,
          'x-nullable': true,
        },
      },
      ...label,
      'x-nullable': true,
    };
  }
  // Images, files, multi-select choices and other virtual columns: not offered (yet).
  return undefined;
}

/** `GET /api/dataverse/tables/{table}/rows`: a page of rows (`select`, `filter`, `orderby`, `top`, `count`). */
export async function listDataverseRows(api: DataverseApi, table: string, url: URL): Promise<ApiResponse> {
  const bad = checkTable(table);
  if (bad) return bad;
  const params = url.searchParams;
  const topText = params.get('top') ?? '50';
  const top = Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    return apiError(400, 'InvalidParameter', 'top must be a whole number from 1 to 1000 (rows per page).', 'top');
  }
  const countText = params.get('count');
  if (countText !== null && countText !== 'true' && countText !== 'false') {
    return apiError(400, 'InvalidParameter', 'count must be true or false.', 'count');
  }
  const select = list(params.get('select'));
  const badSelect = select?.find((name) => !TABLE_NAME.test(name));
  if (badSelect !== undefined) {
    return apiError(400, 'InvalidParameter', 'select is column logical names separated by commas.', 'select');
  }
  const orderBy = list(params.get('orderby'));
  const filter = params.get('filter')?.trim() || undefined;
  const continuation = params.get('continuation') || undefined;
  const target = filter ? 'filter' : orderBy ? 'orderby' : 'select';
  return run(async () => {
    const metadata = await api.getTable(table);
    let page: Awaited<ReturnType<DataverseApi['list']>>;
    if (continuation) {
      const link = continuationLink(api, metadata, continuation);
      if (!link) {
        return apiError(400, 'InvalidContinuation', 'continuation is not one this table handed out.', 'continuation');
      }
      page = await api.nextPage(link, { annotations: true });
    } else {
      page = await api.list(table, {
        ...(select ? { select: withLookupNames(select, metadata) } : {}),
        ...(filter ? { filter } : {}),
        ...(orderBy ? { orderBy } : {}),
        ...(countText === 'true' ? { count: true } : {}),
        pageSize: top,
        annotations: true,
      });
    }
    const value = page.rows.map((row) => plainRow(row, metadata));
    const body: Record<string, unknown> = { value };
    if (page.count !== undefined) body.count = page.count;
    if (page.nextLink) body.nextLink = nextLink(url, page.nextLink);
    return { status: 200, jsonBody: body };
  }, target);
}

/** `GET /api/dataverse/tables/{table}/rows/{id}`: one row (`select`). */
export async function getDataverseRow(api: DataverseApi, table: string, id: string, url: URL): Promise<ApiResponse> {
  const bad = checkTable(table) ?? checkId(id);
  if (bad) return bad;
  const select = list(url.searchParams.get('select'));
  return run(async () => {
    const metadata = await api.getTable(table);
    const row = await api.retrieve(table, id, {
      ...(select ? { select: withLookupNames(select, metadata) } : {}),
      annotations: true,
    });
    return { status: 200, jsonBody: plainRow(row, metadata) };
  }, 'select');
}

/** `POST /api/dataverse/tables/{table}/rows`: 201 with the new row's id. */
export async function createDataverseRow(api: DataverseApi, table: string, body: unknown): Promise<ApiResponse> {
  const bad = checkTable(table);
  if (bad) return bad;
  return run(async () => {
    const metadata = await api.getTable(table);
    const data = await webApiRow(api, metadata, body, 'create');
    if ('status' in data) return data;
    const { id } = await api.create(table, data.row);
    return { status: 201, jsonBody: { id }, headers: { Location: `/api/dataverse/tables/${table}/rows/${id}` } };
  }, 'body');
}

/** `PATCH /api/dataverse/tables/{table}/rows/{id}`: updates the row (never creates it); `If-Match` for concurrency. */
export async function updateDataverseRow(
  api: DataverseApi,
  table: string,
  id: string,
  body: unknown,
  ifMatch: string | null,
): Promise<ApiResponse> {
  const bad = checkTable(table) ?? checkId(id);
  if (bad) return bad;
  return run(async () => {
    const metadata = await api.getTable(table);
    const data = await webApiRow(api, metadata, body, 'update', id);
    if ('status' in data) return data;
    await api.update(table, id, data.row, ifMatch ? { etag: ifMatch } : {});
    return { status: 200, jsonBody: { id: id.toLowerCase() } };
  }, 'body');
}

/** `DELETE /api/dataverse/tables/{table}/rows/{id}`. */
export async function deleteDataverseRow(
  api: DataverseApi,
  table: string,
  id: string,
  ifMatch: string | null,
): Promise<ApiResponse> {
  const bad = checkTable(table) ?? checkId(id);
  if (bad) return bad;
  return run(async () => {
    await api.delete(table, id, ifMatch ? { etag: ifMatch } : {});
    return { status: 200, jsonBody: { id: id.toLowerCase(), deleted: true } };
  }, 'id');
}

/** A plain row body as the Web API takes it, or the 400 that names the field. */
async function webApiRow(
  api: DataverseApi,
  metadata: TableMetadata,
  body: unknown,
  operation: 'create' | 'update',
  id?: string,
): Promise<{ row: Record<string, unknown> } | ApiResponse> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return apiError(400, 'InvalidBody', 'The body must be a JSON object of column values by logical name.', 'body');
  }
  const columns = new Map(metadata.columns.map((c) => [c.logicalName, c]));
  const row: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    const column = columns.get(name);
    if (!column) {
      return apiError(
        400,
        'UnknownColumn',
        `${name} is not a column of ${metadata.logicalName}; List columns of a Dataverse table names them.`,
        name,
      );
    }
    const allowed = operation === 'create' ? column.validForCreate : column.validForUpdate;
    if (!allowed) {
      return apiError(400, 'ReadOnlyColumn', `${name} cannot be set on ${operation}; Dataverse sets it.`, name);
    }
    if (!LOOKUP_TYPES.has(column.type)) {
      // Choices as their number; a `{ value }` read back from this API is accepted as well.
      row[name] =
        CHOICE_TYPES.has(column.type) && typeof value === 'object' && value !== null && 'value' in value
          ? (value as { value: unknown }).value
          : value;
      continue;
    }
    const targets = column.targets ?? [];
    if (value === null) {
      // A new row's lookup is empty unless set; an update clears it by setting the navigation property of the table
      // it points to to null ("Associate and disassociate table rows using the Web API").
      if (operation === 'create' || id === undefined) continue;
      const current = targets.length === 1 ? targets[0] : await currentTarget(api, metadata, id, name);
      if (current) row[`${navigationProperty(column, current)}@odata.bind`] = null;
      continue;
    }
    const reference = value as { table?: unknown; id?: unknown };
    if (typeof reference !== 'object' || typeof reference.id !== 'string' || !GUID.test(reference.id)) {
      return apiError(
        400,
        'InvalidLookup',
        `${name} is a lookup: write { "table": "${targets[0] ?? 'account'}", "id": "<row id>" }, or null to clear it.`,
        name,
      );
    }
    const target = typeof reference.table === 'string' ? reference.table : targets.length === 1 ? targets[0] : '';
    if (!target || !targets.includes(target)) {
      return apiError(
        400,
        'InvalidLookup',
        `${name}.table must be one of ${targets.join(', ')}, the tables this lookup can point to.`,
        `${name}.table`,
      );
    }
    const { entitySetName } = await api.getTable(target);
    row[`${navigationProperty(column, target)}@odata.bind`] = `/${entitySetName}(${reference.id.toLowerCase()})`;
  }
  return { row };
}

/**
 * The navigation property that sets a lookup to a row of `target`: the one metadata names; Dataverse's own naming of
 * system lookups is the fallback for a relationship the metadata did not list.
 */
function navigationProperty(column: ColumnMetadata, target: string): string {
  const targets = column.targets ?? [];
  return column.navigation?.[target] ?? (targets.length > 1 ? `${column.logicalName}_${target}` : column.logicalName);
}

/** The table a multi-table lookup of a row points to now, or undefined when it is empty. */
async function currentTarget(
  api: DataverseApi,
  metadata: TableMetadata,
  id: string,
  column: string,
): Promise<string | undefined> {
  const row = await api.retrieve(metadata.logicalName, id, { select: [`_${column}_value`], annotations: true });
  if (row[`_${column}_value`] === null || row[`_${column}_value`] === undefined) return undefined;
  const table = row[`_${column}_value${LOOKUP_TABLE}`];
  return typeof table === 'string' ? table : undefined;
}

/** Lookups are selected as `_<name>_value`; a maker writes the column's own name. */
function withLookupNames(select: string[], metadata: TableMetadata): string[] {
  const columns = new Map(metadata.columns.map((c) => [c.logicalName, c]));
  return select.map((name) => (LOOKUP_TYPES.has(columns.get(name)?.type ?? '') ? `_${name}_value` : name));
}

function columnView(c: ColumnMetadata): DataverseColumnView {
  return {
    logicalName: c.logicalName,
    displayName: c.displayName,
    type: c.type,
    requiredLevel: c.requiredLevel,
    validForCreate: c.validForCreate,
    validForUpdate: c.validForUpdate,
    ...(c.targets ? { targets: c.targets } : {}),
    ...(c.options ? { options: c.options } : {}),
  };
}

/** Our `nextLink`: the same path and query (without the key) and the Dataverse page as an opaque continuation. */
function nextLink(url: URL, dataverseLink: string): string {
  const link = new URL(dataverseLink);
  const token = Buffer.from(`${link.pathname.slice(API_PATH.length)}${link.search}`).toString('base64url');
  const next = new URL(url.pathname, url.origin);
  for (const [name, text] of url.searchParams) {
    if (name !== 'continuation' && name !== 'code') next.searchParams.set(name, text);
  }
  next.searchParams.set('continuation', token);
  return next.href;
}

/** The Dataverse link a continuation stands for, when it is a page of this table's entity set. */
function continuationLink(api: DataverseApi, metadata: TableMetadata, continuation: string): string | undefined {
  const relative = Buffer.from(continuation, 'base64url').toString('utf8');
  if (!relative.startsWith(`${metadata.entitySetName}?`)) return undefined;
  return `${api.url}${API_PATH}${relative}`;
}

function list(text: string | null): string[] | undefined {
  const items = (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length > 0 ? items : undefined;
}

function checkTable(table: string): ApiResponse | undefined {
  if (TABLE_NAME.test(table)) return undefined;
  return apiError(400, 'InvalidParameter', 'table must be a logical name: lower-case letters, digits and _.', 'table');
}

function checkId(id: string): ApiResponse | undefined {
  if (GUID.test(id)) return undefined;
  return apiError(400, 'InvalidParameter', 'id must be the row id, a GUID.', 'id');
}

/** Runs a handler body, answering a Dataverse error the way the module comment says. */
async function run(body: () => Promise<ApiResponse>, target = 'table'): Promise<ApiResponse> {
  try {
    return await body();
  } catch (error) {
    const answer = dataverseErrorResponse(error, target);
    if (answer) return answer;
    throw error;
  }
}

/**
 * The connector's answer to a Dataverse error, or undefined for anything else (a bug: let it surface as a 500).
 * `target` is what a 400 is most likely about (the filter of a list, the body of a write).
 */
export function dataverseErrorResponse(error: unknown, target: string): ApiResponse | undefined {
  if (!isDataverseError(error)) return undefined;
  const message = `Dataverse: ${error.message}`;
  if (error.transient) {
    const retryAfter = error.retryAfterSeconds ?? (error.status === 429 ? 60 : undefined);
    const response =
      error.status === 429
        ? apiError(429, 'DataverseThrottled', `${message} Try again after Retry-After seconds.`, 'table')
        : apiError(503, 'DataverseUnavailable', `${message} Try again later.`, 'table');
    return retryAfter === undefined ? response : { ...response, headers: { 'Retry-After': String(retryAfter) } };
  }
  switch (error.status) {
    case 400:
      return apiError(400, 'DataverseBadRequest', message, target);
    case 403:
      return apiError(403, 'DataverseForbidden', message, 'table');
    case 404: {
      const tableMissing = error.operation.endsWith('definition') || error.dataverseCode === '0x8006088a';
      return apiError(404, tableMissing ? 'TableNotFound' : 'RowNotFound', message, tableMissing ? 'table' : 'id');
    }
    case 412:
      return apiError(412, 'PreconditionFailed', `${message} Read the row again for its current etag.`, 'If-Match');
    case undefined:
      // Refused before sending (a bad name, id or link): the caller's input.
      return apiError(400, 'InvalidParameter', message, target);
    default:
      // Dataverse refused the app itself (401, a misconfiguration): not the caller's mistake, nor a bug here.
      return apiError(502, 'DataverseRefused', `${message} Check the bridge's Dataverse settings.`, 'table');
  }
}
