/**
 * The project's error base classes. Every failure the pipeline can meet is one of two kinds, and the kind decides
 * what happens to the message:
 *
 * - {@link PermanentError}: the input itself is wrong (not JSON, not an execution context, an unsupported format).
 *   Retrying cannot help, so the message is recorded as rejected with its raw bytes and completed.
 * - {@link TransientError}: something we depend on is unavailable (storage, Event Grid). The invocation fails so the
 *   trigger redelivers; deduplication makes the retry safe.
 */
export abstract class BridgeError extends Error {
  /** A stable, machine-readable code such as `NotJson` or `PublishFailed`. */
  abstract readonly code: string;
  /** Whether retrying the same input could succeed. */
  abstract readonly transient: boolean;

  /** The error as a plain object, for job records and HTTP error bodies. Never contains secrets. */
  toJSON(): { code: string; message: string; transient: boolean } {
    return { code: this.code, message: this.message, transient: this.transient };
  }
}

/** Bad input: record it, keep the raw bytes, do not retry. */
export abstract class PermanentError extends BridgeError {
  readonly transient = false;
}

/** A dependency is unavailable: fail the invocation so the trigger retries. */
export abstract class TransientError extends BridgeError {
  readonly transient = true;
}

/** A continuation token that is not one a store handed out (every paged port throws it; the connector answers 400). */
export class InvalidContinuationError extends PermanentError {
  override readonly name = 'InvalidContinuationError';
  readonly code = 'InvalidContinuation';
  constructor() {
    super('The continuation token is not one this API returned. Use the nextLink as given, or start again without it.');
  }
}
