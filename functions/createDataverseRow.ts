import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseOperationDeps } from '../shared/runtime.js';

/** Creates a row, as the caller. */
export async function createDataverseRow(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows, { readJsonBody }] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
    import('../shared/connector/requests.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), async (api) => {
    const read = readJsonBody(
      new Uint8Array(await request.arrayBuffer()),
      request.headers.get('content-type'),
      'createDataverseRow',
    );
    return read.ok ? rows.createDataverseRow(api, request.params.table ?? '', read.body) : read.response;
  });
}

app.http('createDataverseRow', { ...httpTrigger('createDataverseRow'), handler: createDataverseRow });
