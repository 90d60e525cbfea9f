/** A plain HTTP response; function files hand it to the host as an HttpResponseInit. */
export interface ApiResponse {
  status: number;
  jsonBody: unknown;
  headers?: Record<string, string>;
}

/**
 * The connector's error shape, `{ "error": { "code", "message", "target"? } }`, as Power Platform connectors and
 * Microsoft REST APIs use it.
 *
 * @example
 * apiError(400, 'InvalidParameter', 'top must be a whole number from 1 to 1000.', 'top');
 */
export function apiError(status: number, code: string, message: string, target?: string): ApiResponse {
  return { status, jsonBody: { error: { code, message, ...(target ? { target } : {}) } } };
}
