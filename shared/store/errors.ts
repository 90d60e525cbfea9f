import { InvalidContinuationError, TransientError } from '../errors.js';

/**
 * Storage could not be reached, timed out, or answered 5xx, 408 or 429. The invocation fails so the trigger
 * redelivers.
 *
 * The message names the operation and the table or container and nothing else from the SDK: SDK messages and
 * request URLs can carry a SAS token, so they stay on `cause` (whose request and response the SDK hides from
 * `JSON.stringify` and `console.log`).
 */
export class StorageUnavailableError extends TransientError {
  override readonly name = 'StorageUnavailableError';
  readonly code = 'StorageUnavailable';
  /** The HTTP status or network error code found on `cause` (`503`, `ECONNREFUSED`), when there is one. */
  readonly reason: string | undefined;

  /**
   * @param operation - What we were doing, such as `create job`.
   * @param resource - The table or container, such as `table bridgejobs`.
   * @param cause - The SDK or socket error; kept as `cause`, only its status or error code reaches the message.
   */
  constructor(
    readonly operation: string,
    readonly resource: string,
    cause?: unknown,
  ) {
    const reason = unavailableReason(cause);
    super(
      `Storage is unavailable: ${operation} on ${resource} failed${reason === undefined ? '' : ` (${reason})`}. ` +
        'The message will be retried.',
      cause === undefined ? undefined : { cause },
    );
    this.reason = reason;
  }
}

// Node's socket errors that mean the service could not be reached or stopped answering.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // core-rest-pipeline's code when a request failed without a socket error code.
  'REQUEST_SEND_ERROR',
]);

interface ErrorFacts {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Why `error` means storage is unavailable (`503`, `ECONNREFUSED`, `timeout`), or `undefined` if it does not. */
function unavailableReason(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined;
  // Duck-typed rather than `instanceof RestError`, so this module loads no SDK and works across SDK copies.
  const { name, code, statusCode, cause, errors } = error as ErrorFacts;
  if (typeof statusCode === 'number') {
    return statusCode >= 500 || statusCode === 408 || statusCode === 429 ? String(statusCode) : undefined;
  }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  if (name === 'TimeoutError') return 'timeout';
  // A RestError without a status never got an answer.
  if (name === 'RestError') return typeof code === 'string' ? code : 'no response';
  // Node reports a failed dual-stack connect as an AggregateError, and some layers wrap the socket error.
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const reason = unavailableReason(inner, depth + 1);
      if (reason !== undefined) return reason;
    }
  }
  return unavailableReason(cause, depth + 1);
}

/**
 * Turns an SDK failure that means "storage unavailable" into a {@link StorageUnavailableError}; returns any other
 * error (404, 409, 412, 403, a bug) unchanged, for the caller to handle or rethrow.
 *
 * @example
 * try {
 *   await client.createEntity(entity);
 * } catch (error) {
 *   throw toStorageError(error, 'create job', `table ${client.tableName}`);
 * }
 */
export function toStorageError(error: unknown, operation: string, resource: string): unknown {
  if (error instanceof StorageUnavailableError) return error;
  return unavailableReason(error) === undefined ? error : new StorageUnavailableError(operation, resource, error);
}

/**
 * Checks a Table continuation token (the SDK's base64 JSON with `nextPartitionKey`) before it reaches the SDK, which
 * would throw a bare SyntaxError on a malformed one.
 *
 * @throws {InvalidContinuationError}
 */
export function checkContinuation(token: string): void {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new InvalidContinuationError();
  }
  if (typeof (decoded as { nextPartitionKey?: unknown } | null)?.nextPartitionKey !== 'string') {
    throw new InvalidContinuationError();
  }
}

/** The HTTP status of a storage SDK error (`RestError.statusCode`), if it has one. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Table storage always returns an ETag on writes; a missing one would make the next update unconditional. */
export function requireEtag(etag: string | undefined): string {
  if (etag === undefined) throw new Error('Table storage returned no ETag for a write.');
  return etag;
}
