import { PermanentError } from '../errors.js';

/** Why a body could not be read as a Dataverse execution context. */
export type ContextErrorCode =
  /** The body is empty. */
  | 'EmptyBody'
  /** The bytes are not valid text in the declared charset, or the charset is unknown. */
  | 'InvalidEncoding'
  /** The service endpoint sends .NET binary XML or DataContract XML instead of JSON. */
  | 'UnsupportedMessageFormat'
  /** The text is not JSON. */
  | 'NotJson'
  /** The JSON is well formed but is not a RemoteExecutionContext. */
  | 'NotAContext'
  /** A value inside the context has the wrong shape or type. */
  | 'InvalidValue'
  /** The JSON nests deeper than any real context does. */
  | 'TooDeep';

/**
 * The one error the context reader raises. It is permanent: the same bytes will always fail the same way.
 *
 * @example
 * try { readContext(body) } catch (e) {
 *   if (e instanceof ContextFormatError) console.error(e.code, e.path, e.message);
 * }
 */
export class ContextFormatError extends PermanentError {
  override readonly name = 'ContextFormatError';
  readonly code: ContextErrorCode;
  /** Where in the body the problem is: a JSONPath such as `$.InputParameters[0].value.Attributes[3].value`. */
  readonly path: string | undefined;
  /** What to change (for example on the Dataverse service endpoint registration), when we know. */
  readonly hint: string | undefined;

  constructor(
    code: ContextErrorCode,
    problem: string,
    options: { path?: string; hint?: string; cause?: unknown } = {},
  ) {
    const where = options.path ? ` at ${options.path}` : '';
    const hint = options.hint ? ` ${options.hint}` : '';
    super(`${problem}${where}.${hint}`, { cause: options.cause });
    this.code = code;
    this.path = options.path;
    this.hint = options.hint;
  }

  override toJSON(): { code: string; message: string; transient: boolean; path?: string } {
    return this.path === undefined ? super.toJSON() : { ...super.toJSON(), path: this.path };
  }
}
