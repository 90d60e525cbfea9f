import { app, type HttpResponseInit } from '@azure/functions';
import { getChangeStore } from '../shared/changes/runtime.js';
import { listTables as listTablesResponse } from '../shared/connector/changes.js';
import { httpTrigger } from '../shared/connector/operations.js';

/** The Dataverse tables seen so far (feeds the table dropdowns of the connector). */
export async function listTables(): Promise<HttpResponseInit> {
  return listTablesResponse(await getChangeStore());
}

app.http('listTables', { ...httpTrigger('listTables'), handler: listTables });
