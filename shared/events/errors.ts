import { PermanentError, TransientError } from '../errors.js';

/**
 * Event Grid did not accept a publish request: an HTTP error, a timeout, or a broken connection. Transient, so the
 * invocation fails and the message is redelivered; the events may or may not have been accepted, and deduplication
 * (and the deterministic event ids) makes the retry safe.
 *
 * The message never contains the topic key: callers build `reason` from what they know, not from the request.
 *
 * @example
 * throw new PublishFailedError('the service is unavailable', { statusCode: 503 });
 * // Event Grid did not accept the publish request (HTTP 503): the service is unavailable
 */
export class PublishFailedError extends TransientError {
  override readonly name = 'PublishFailedError';
  readonly code = 'PublishFailed';
  /** The HTTP status Event Grid answered with; absent when there was no answer (timeout, connection lost). */
  readonly statusCode: number | undefined;

  constructor(reason: string, options: { statusCode?: number } = {}) {
    const status = options.statusCode === undefined ? '' : ` (HTTP ${options.statusCode})`;
    super(`Event Grid did not accept the publish request${status}: ${reason}`);
    this.statusCode = options.statusCode;
  }

  override toJSON(): { code: string; message: string; transient: boolean; statusCode?: number } {
    return this.statusCode === undefined ? super.toJSON() : { ...super.toJSON(), statusCode: this.statusCode };
  }
}

/**
 * One event is larger than Event Grid accepts, so it can never be published. Permanent: the message is recorded as
 * rejected with its raw bytes, and the fix is on the Dataverse side (send less per context).
 *
 * @example
 * new EventTooLargeError(1_363_149, 1_048_576).message;
 * // The event is 1.3 MB (1,363,149 bytes); Event Grid accepts at most 1 MB (1,048,576 bytes) per event. …
 */
export class EventTooLargeError extends PermanentError {
  override readonly name = 'EventTooLargeError';
  readonly code = 'EventTooLarge';

  constructor(
    /** The event's size in bytes, as JSON. */
    readonly size: number,
    /** The most Event Grid accepts per event, in bytes. */
    readonly limit: number,
  ) {
    super(
      `The event is ${describeBytes(size)}; Event Grid accepts at most ${describeBytes(limit)} per event. ` +
        'Send less per context from Dataverse: on the step, set filtering attributes and register pre/post images ' +
        'with only the columns you need (not all columns), or split the work into steps that each carry less.',
    );
  }

  override toJSON(): { code: string; message: string; transient: boolean; size: number; limit: number } {
    return { ...super.toJSON(), size: this.size, limit: this.limit };
  }
}

const KB = 1024;
const MB = 1024 * 1024;

/** `1.3 MB (1,363,149 bytes)`: rounded for reading, exact for comparing two sizes that round alike. */
function describeBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  if (bytes < KB) return exact;
  const [value, unit] = bytes < MB ? [bytes / KB, 'KB'] : [bytes / MB, 'MB'];
  return `${Number(value.toFixed(1))} ${unit} (${exact})`;
}
