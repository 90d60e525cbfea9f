import type { ChangeReader } from '../changes/types.js';
import { LOGICAL_NAME } from '../dataverse/names.js';
import { InvalidContinuationError } from '../errors.js';
import { pageResponse, readPageQuery } from './paging.js';
import { type ApiResponse, apiError } from './responses.js';

/** Dataverse logical names: letters, digits and underscores. */
const MAX_ROW_ID = 128;

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
  if (id.length === 0 || id.length > MAX_ROW_ID || hasControlCharacter(id)) {
    return apiError(
      400,
      'InvalidParameter',
      `id must be a row id (a GUID) of 1 to ${MAX_ROW_ID} printable characters.`,
      'id',
    );
  }
  const row = await reader.getRow(table, id);
  return row
    ? { status: 200, jsonBody: row }
    : apiError(404, 'NotFound', `No event for row ${id} of table ${table} has been seen.`, 'id');
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

/** Control characters cannot be in a storage key; a lone surrogate cannot be encoded into one. */
function hasControlCharacter(text: string): boolean {
  try {
    encodeURIComponent(text);
  } catch {
    return true;
  }
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}
