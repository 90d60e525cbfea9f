import type { ChangeReader } from '../changes/types.js';
import { GUID, LOGICAL_NAME } from '../dataverse/names.js';
import { InvalidContinuationError } from '../errors.js';
import { pageResponse, readPageQuery } from './paging.js';
import { type ApiResponse, apiError } from './responses.js';

/** `GET /api/tables`: every Dataverse table an event was projected for, by name. */
export async function listTables(reader: ChangeReader): Promise<ApiResponse> {
  return { status: 200, jsonBody: { value: await reader.listTables() } };
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
