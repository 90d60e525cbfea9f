import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** A page of a table's rows, as the caller. */
export async function listDataverseRows(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.listDataverseRows(api, request.params.table ?? '', new URL(request.url)),
  );
}

app.http('listDataverseRows', { ...httpTrigger('listDataverseRows'), handler: listDataverseRows });
