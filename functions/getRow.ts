import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getChangeStore } from '../shared/runtime.js';

/** The latest known snapshot of a row (a tombstone after a Delete); 404 when no event for it was seen. */
export async function getRow(request: HttpRequest): Promise<HttpResponseInit> {
  const { getRow: getRowResponse } = await import('../shared/connector/changes.js');
  return getRowResponse(request.params.table ?? '', request.params.id ?? '', await getChangeStore());
}

app.http('getRow', { ...httpTrigger('getRow'), handler: getRow });
