import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** Deletes a row, as the caller. */
export async function deleteDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.deleteDataverseRow(api, request.params.table ?? '', request.params.id ?? '', request.headers.get('if-match')),
  );
}

app.http('deleteDataverseRow', { ...httpTrigger('deleteDataverseRow'), handler: deleteDataverseRow });
