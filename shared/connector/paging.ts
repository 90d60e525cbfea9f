import { type ApiResponse, apiError } from './responses.js';

/** The query parameters every paged list takes. */
export interface PageQuery {
  since?: Date;
  /** 1–1000, default 50. */
  top: number;
  continuation?: string;
}

/**
 * Reads `since`, `top` and `continuation` from a list operation's query string, or answers 400 naming the bad one.
 *
 * @example
 * const query = readPageQuery(url.searchParams);
 * if ('status' in query) return query; // the 400
 */
export function readPageQuery(params: URLSearchParams): PageQuery | ApiResponse {
  const sinceText = params.get('since') ?? undefined;
  const since = sinceText === undefined ? undefined : new Date(sinceText);
  if (since !== undefined && Number.isNaN(since.getTime())) {
    return apiError(
      400,
      'InvalidParameter',
      'since must be an ISO 8601 date and time, e.g. 2026-11-21T09:00:00Z.',
      'since',
    );
  }
  const topText = params.get('top') ?? undefined;
  const top = topText === undefined ? 50 : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    return apiError(400, 'InvalidParameter', 'top must be a whole number from 1 to 1000.', 'top');
  }
  const continuation = params.get('continuation') || undefined;
  return { ...(since ? { since } : {}), top, ...(continuation ? { continuation } : {}) };
}

/**
 * A page of `value`, with a `nextLink` when there is more (`x-ms-pageable`): the same path and query, without the key
 * (`code`, which must never travel in a link), with the store's continuation token.
 */
export function pageResponse(url: URL, value: unknown[], continuation: string | undefined): ApiResponse {
  if (!continuation) return { status: 200, jsonBody: { value } };
  const next = new URL(url.pathname, url.origin);
  for (const [name, text] of url.searchParams) {
    if (name !== 'continuation' && name !== 'code') next.searchParams.set(name, text);
  }
  next.searchParams.set('continuation', continuation);
  return { status: 200, jsonBody: { value, nextLink: next.href } };
}
