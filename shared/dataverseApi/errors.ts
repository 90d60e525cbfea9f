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
  declare readonly status?: number;
  declare readonly dataverseCode?: string;
  constructor(
    readonly code: string,
    message: string,
    details: DataverseErrorDetails,
  ) {
    super(message);
    this.operation = details.operation;
    Object.assign(this, known(details));
  }
}

/** The optional details that are set, so absent ones stay absent (not `undefined` properties). */
function known(details: DataverseErrorDetails): Partial<DataverseErrorDetails> {
  return Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined));
}

/**
 * Dataverse (or Entra) is unavailable for now: throttled past the retry budget, 5xx, a timeout, the network. Retrying
 * later can help; `retryAfterSeconds` says when, if Dataverse said.
 */
export class DataverseUnavailableError extends TransientError implements DataverseErrorDetails {
  override readonly name = 'DataverseUnavailableError';
  readonly operation: string;
  declare readonly status?: number;
  declare readonly dataverseCode?: string;
  declare readonly retryAfterSeconds?: number;
  constructor(
    readonly code: string,
    message: string,
    details: DataverseErrorDetails,
  ) {
    super(message);
    this.operation = details.operation;
    Object.assign(this, known(details));
  }
}

/** Either kind; check `transient`. */
export type DataverseError = DataverseRequestError | DataverseUnavailableError;

/** Whether an error came from the Dataverse client. */
export function isDataverseError(error: unknown): error is DataverseError {
  return error instanceof DataverseRequestError || error instanceof DataverseUnavailableError;
}
