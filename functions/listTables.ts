import { app, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getChangeStore } from '../shared/runtime.js';

/** The Dataverse tables seen so far (feeds the table dropdowns of the connector). */
export async function listTables(): Promise<HttpResponseInit> {
  const { listTables: listTablesResponse } = await import('../shared/connector/changes.js');
  return listTablesResponse(await getChangeStore());
}

app.http('listTables', { ...httpTrigger('listTables'), handler: listTables });
