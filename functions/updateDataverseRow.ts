import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** Updates a row, as the caller (If-Match for optimistic concurrency). */
export async function updateDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows, { readJsonBody }] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
    import('../shared/connector/requests.js'),
  ]);
  // The body first: a malformed one is the caller's mistake whatever the deployment (400, 413 or 415).
  const read = readJsonBody(
    new Uint8Array(await request.arrayBuffer()),
    request.headers.get('content-type'),
    'updateDataverseRow',
  );
  if (!read.ok) return read.response;
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.updateDataverseRow(
      api,
      request.params.table ?? '',
      request.params.id ?? '',
      read.body,
      request.headers.get('if-match'),
    ),
  );
}

app.http('updateDataverseRow', { ...httpTrigger('updateDataverseRow'), handler: updateDataverseRow });
