import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** The environment's tables, from metadata, as the caller. */
export async function listDataverseTables(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.listDataverseTables(api),
  );
}

app.http('listDataverseTables', { ...httpTrigger('listDataverseTables'), handler: listDataverseTables });
