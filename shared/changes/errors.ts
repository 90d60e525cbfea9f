import { PermanentError } from '../errors.js';

/** A row's merged state no longer fits what the store holds for one row (a Table entity: about 900 KB of JSON). */
export class RowTooLargeError extends PermanentError {
  override readonly name = 'RowTooLargeError';
  readonly code = 'RowTooLarge';
  /**
   * @param chars - The merged state's JSON length.
   * @param limit - The most the store holds, in characters.
   */
  constructor(table: string, id: string, chars: number, limit: number) {
    super(
      `The snapshot of ${table}/${id} would take ${chars} characters, more than a Table entity holds (${limit}); ` +
        'it was not updated. Its change log is complete.',
    );
  }
}
