import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { httpTrigger } from '../shared/connector/operations.js';
import type { ApiResponse } from '../shared/connector/responses.js';
import type { DataverseApi } from '../shared/dataverseApi/types.js';
import { dataverseConfigured, getDataverseApi, getTokenValidator } from '../shared/runtime.js';

type Rows = typeof import('../shared/connector/dataverseRows.js');

/**
 * The Dataverse operations of the connector (`/api/dataverse/…`): each decides who it acts as (the caller's bearer
 * token, or the application user when `BRIDGE_DATAVERSE_APP_OPERATIONS` allows a key alone), then hands plain values
 * to `shared/connector/dataverseRows.ts`.
 */
async function withDataverse(
  request: HttpRequest,
  run: (rows: Rows, api: DataverseApi) => Promise<ApiResponse>,
): Promise<HttpResponseInit> {
  if (!dataverseConfigured()) {
    const { apiError } = await import('../shared/connector/responses.js');
    return apiError(503, 'DataverseNotConfigured', 'DATAVERSE_URL is not set, so Dataverse operations are off.');
  }
  // Loaded on the first call, not at start-up (jose comes with the identity module).
  const [rows, { actingApi }, api, validator] = await Promise.all([
    import('../shared/connector/dataverseRows.js'),
    import('../shared/connector/dataverseIdentity.js'),
    getDataverseApi(),
    getTokenValidator(),
  ]);
  const config = getConfig();
  const acting = await actingApi(
    {
      authorization: request.headers.get('authorization'),
      auth: config.auth,
      appOperations: config.dataverseAppOperations,
      validator,
    },
    api,
  );
  if ('status' in acting) return acting;
  return run(rows, acting);
}

/** The JSON body of a row write, or the 400/413/415 to answer. */
async function rowBody(request: HttpRequest, name: 'createDataverseRow' | 'updateDataverseRow') {
  const { readJsonBody } = await import('../shared/connector/requests.js');
  return readJsonBody(new Uint8Array(await request.arrayBuffer()), request.headers.get('content-type'), name);
}

const table = (request: HttpRequest) => request.params.table ?? '';
const id = (request: HttpRequest) => request.params.id ?? '';

/** The environment's tables, from metadata. */
export function listDataverseTables(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) => rows.listDataverseTables(api));
}

/** A table's columns, from metadata. */
export function listDataverseColumns(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) => rows.listDataverseColumns(api, table(request)));
}

/** The JSON schema of a table's rows (the designer's dynamic schema). */
export function getDataverseTableSchema(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) => rows.getDataverseTableSchema(api, table(request), new URL(request.url)));
}

/** A page of rows. */
export function listDataverseRows(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) => rows.listDataverseRows(api, table(request), new URL(request.url)));
}

/** Creates a row. */
export function createDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, async (rows, api) => {
    const read = await rowBody(request, 'createDataverseRow');
    return read.ok ? rows.createDataverseRow(api, table(request), read.body) : read.response;
  });
}

/** One row. */
export function getDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) =>
    rows.getDataverseRow(api, table(request), id(request), new URL(request.url)),
  );
}

/** Updates a row (If-Match for optimistic concurrency). */
export function updateDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, async (rows, api) => {
    const read = await rowBody(request, 'updateDataverseRow');
    if (!read.ok) return read.response;
    return rows.updateDataverseRow(api, table(request), id(request), read.body, request.headers.get('if-match'));
  });
}

/** Deletes a row. */
export function deleteDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  return withDataverse(request, (rows, api) =>
    rows.deleteDataverseRow(api, table(request), id(request), request.headers.get('if-match')),
  );
}

getConfig(); // validates every setting at start-up

app.http('listDataverseTables', { ...httpTrigger('listDataverseTables'), handler: listDataverseTables });
app.http('listDataverseColumns', { ...httpTrigger('listDataverseColumns'), handler: listDataverseColumns });
app.http('getDataverseTableSchema', { ...httpTrigger('getDataverseTableSchema'), handler: getDataverseTableSchema });
app.http('listDataverseRows', { ...httpTrigger('listDataverseRows'), handler: listDataverseRows });
app.http('createDataverseRow', { ...httpTrigger('createDataverseRow'), handler: createDataverseRow });
app.http('getDataverseRow', { ...httpTrigger('getDataverseRow'), handler: getDataverseRow });
app.http('updateDataverseRow', { ...httpTrigger('updateDataverseRow'), handler: updateDataverseRow });
app.http('deleteDataverseRow', { ...httpTrigger('deleteDataverseRow'), handler: deleteDataverseRow });
