import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { dataverseConfigured, getDataverseApi, getDataverseOperationDeps } from '../shared/runtime.js';

/** The JSON schema of a table's rows (the designer's dynamic schema). */
export async function getDataverseTableSchema(request: HttpRequest): Promise<HttpResponseInit> {
  if (new URL(request.url).searchParams.get('purpose') === 'event') {
    // The trigger's event row: table definitions read with the app's identity, like the trigger's table dropdown.
    const rows = await import('../shared/connector/dataverseRows.js');
    const api = dataverseConfigured() ? await getDataverseApi() : undefined;
    return rows.getEventSchema(api, request.params.table ?? '');
  }
  // Loaded on the first call, not at start-up (jose comes with the identity check).
  const [{ withDataverse }, rows] = await Promise.all([
    import('../shared/connector/dataverseIdentity.js'),
    import('../shared/connector/dataverseRows.js'),
  ]);
  return withDataverse(request.headers.get('authorization'), getDataverseOperationDeps(), (api) =>
    rows.getDataverseTableSchema(api, request.params.table ?? '', new URL(request.url)),
  );
}

app.http('getDataverseTableSchema', { ...httpTrigger('getDataverseTableSchema'), handler: getDataverseTableSchema });
