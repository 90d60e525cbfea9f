import { PermanentError, TransientError } from '../errors.js';

/** What every Dataverse failure carries besides its message: enough to decide, never a token or secret. */
export interface DataverseErrorDetails {
  /** e.g. `GET accounts(…)`, `token` for the credential. */
  operation: string;
  /** The HTTP status, when Dataverse (or Entra) answered. */
  status?: number;
  /** Dataverse's `error.code`, e.g. `0x80040217`. */
  dataverseCode?: string;
  /** For throttling: the wait Dataverse asked for, in seconds. */
  retryAfterSeconds?: number;
}

/**
 * Dataverse refused the request and retrying the same request cannot help: a bad filter or column, a missing row
 * (404), a changed row (412), a missing privilege (403), a token Dataverse does not accept (401), a credential Entra
 * refuses. `code` names the case.
 */
export class DataverseRequestError extends PermanentError implements DataverseErrorDetails {
  override readonly name = 'DataverseRequestError';
  readonly operation: string;
  readonly status?: number;
  readonly dataverseCode?: string;
  constructor(
    readonly code: string,
    message: string,
    details: DataverseErrorDetails,
  ) {
    super(message);
    this.operation = details.operation;
    if (details.status !== undefined) this.status = details.status;
    if (details.dataverseCode !== undefined) this.dataverseCode = details.dataverseCode;
  }
}

/**
 * Dataverse (or Entra) is unavailable for now: throttled past the retry budget, 5xx, a timeout, the network. Retrying
 * later can help; `retryAfterSeconds` says when, if Dataverse said.
 */
export class DataverseUnavailableError extends TransientError implements DataverseErrorDetails {
  override readonly name = 'DataverseUnavailableError';
  readonly operation: string;
  readonly status?: number;
  readonly dataverseCode?: string;
  readonly retryAfterSeconds?: number;
  constructor(
    readonly code: string,
    message: string,
    details: DataverseErrorDetails,
  ) {
    super(message);
    this.operation = details.operation;
    if (details.status !== undefined) this.status = details.status;
    if (details.dataverseCode !== undefined) this.dataverseCode = details.dataverseCode;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** Either kind; check `transient`. */
export type DataverseError = DataverseRequestError | DataverseUnavailableError;

/** Whether an error came from the Dataverse client. */
export function isDataverseError(error: unknown): error is DataverseError {
  return error instanceof DataverseRequestError || error instanceof DataverseUnavailableError;
}
