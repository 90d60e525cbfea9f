import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** A table's columns, from metadata, as the caller. */
export async function listDataverseColumns(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.listDataverseColumns(api, request.params.table ?? ''),
  );
}

app.http('listDataverseColumns', { ...httpTrigger('listDataverseColumns'), handler: listDataverseColumns });
