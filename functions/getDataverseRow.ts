import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** One row, as the caller. */
export async function getDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.getDataverseRow(api, request.params.table ?? '', request.params.id ?? '', new URL(request.url)),
  );
}

app.http('getDataverseRow', { ...httpTrigger('getDataverseRow'), handler: getDataverseRow });
