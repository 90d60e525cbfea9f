import { app, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { dataverseConfigured, getChangeStore, getDataverseApi } from '../shared/runtime.js';

/**
 * The tables for the connector's dropdowns (the trigger's among them): the environment's tables from metadata when
 * Dataverse is configured, read with the app's identity (table definitions, no rows), else the tables seen so far.
 */
export async function listTables(): Promise<HttpResponseInit> {
  const { listTables: listTablesResponse } = await import('../shared/connector/changes.js');
  const metadata = dataverseConfigured() ? async () => (await getDataverseApi()).listTables() : undefined;
  return listTablesResponse(await getChangeStore(), metadata);
}

app.http('listTables', { ...httpTrigger('listTables'), handler: listTables });
