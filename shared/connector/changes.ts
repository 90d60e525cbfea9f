import type { ChangeReader } from '../changes/types.js';
import { GUID, LOGICAL_NAME } from '../dataverse/names.js';
import { InvalidContinuationError } from '../errors.js';
import { dataverseErrorResponse } from './dataverseRows.js';
import { pageResponse, readPageQuery } from './paging.js';
import { type ApiResponse, apiError } from './responses.js';

/** A table of `ListTables`: seen (with `lastSeenAt`), from metadata (with `displayName`), or both. */
export interface TableListItem {
  name: string;
  displayName?: string;
  lastSeenAt?: string;
}

/**
 * `GET /api/tables`: every Dataverse table an event was projected for, by name; or, given the environment's tables
 * from metadata (Dataverse configured), those, with when each was last seen.
 */
export async function listTables(
  reader: ChangeReader,
  metadataTables?: () => Promise<{ logicalName: string; displayName: string }[]>,
): Promise<ApiResponse> {
  const seen = await reader.listTables();
  if (!metadataTables) return { status: 200, jsonBody: { value: seen } };
  // With Dataverse configured, the dropdown offers every table of the environment, seen or not yet.
  const lastSeen = new Map(seen.map((t) => [t.name, t.lastSeenAt]));
  let tables: { logicalName: string; displayName: string }[];
  try {
    tables = await metadataTables();
  } catch (error) {
    const answer = dataverseErrorResponse(error, 'table');
    if (answer) return answer;
    throw error;
  }
  const value = tables.map((t): TableListItem => {
    const at = lastSeen.get(t.logicalName);
    return { name: t.logicalName, displayName: t.displayName, ...(at ? { lastSeenAt: at } : {}) };
  });
  return { status: 200, jsonBody: { value } };
}

/**
 * `GET /api/tables/{table}/changes?since=&top=&continuation=`: a table's change log, newest first, a page at a time,
 * with a `nextLink` to the next page (`x-ms-pageable`).
 *
 * @example
 * await listChanges('account', new URL('https://bridge.example/api/tables/account/changes?top=2'), store);
 * // { status: 200, jsonBody: { value: [change, change], nextLink: 'https://…/changes?top=2&continuation=…' } }
 */
export async function listChanges(table: string, url: URL, reader: ChangeReader): Promise<ApiResponse> {
  const badTable = checkTable(table);
  if (badTable) return badTable;
  const query = readPageQuery(url.searchParams);
  if ('status' in query) return query;
  let page: Awaited<ReturnType<ChangeReader['listChanges']>>;
  try {
    page = await reader.listChanges(table, query);
  } catch (error) {
    if (error instanceof InvalidContinuationError) {
      return apiError(400, 'InvalidParameter', error.message, 'continuation');
    }
    throw error;
  }
  return pageResponse(url, page.changes, page.continuation);
}

/** `GET /api/tables/{table}/rows/{id}`: the latest known snapshot of a row (a tombstone after a Delete), or 404. */
export async function getRow(table: string, id: string, reader: ChangeReader): Promise<ApiResponse> {
  const badTable = checkTable(table);
  if (badTable) return badTable;
  if (!GUID.test(id)) {
    return apiError(
      400,
      'InvalidParameter',
      'id must be a row id: a GUID such as 6d81597f-0f9f-e711-8122-000d3aa2331c.',
      'id',
    );
  }
  const row = await reader.getRow(table, id);
  return row
    ? { status: 200, jsonBody: row }
    : apiError(404, 'NotFound', 'No event has been seen for this row of this table.', 'id');
}

function checkTable(table: string): ApiResponse | undefined {
  return LOGICAL_NAME.test(table)
    ? undefined
    : apiError(
        400,
        'InvalidParameter',
        'table must be a Dataverse table logical name: 1 to 128 letters, digits or underscores, e.g. account.',
        'table',
      );
}
