import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getChangeStore } from '../shared/runtime.js';

/** A table's change log, newest first, paged with a nextLink. */
export async function listChanges(request: HttpRequest): Promise<HttpResponseInit> {
  const { listChanges: listChangesResponse } = await import('../shared/connector/changes.js');
  return listChangesResponse(request.params.table ?? '', new URL(request.url), await getChangeStore());
}

app.http('listChanges', { ...httpTrigger('listChanges'), handler: listChanges });
