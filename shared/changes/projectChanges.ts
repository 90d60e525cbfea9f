import { PermanentError, TransientError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RowTooLargeError } from './errors.js';
import { applyEvent } from './rowState.js';
import { toChange } from './toChange.js';
import type { ChangeWriter } from './types.js';

export interface ProjectDeps {
  store: ChangeWriter;
  log?: Pick<Logger, 'warn'>;
  now?: () => Date;
  /** Read-merge-write attempts on a contended row before giving up for now (default 10). */
  maxAttempts?: number;
}

/**
 * What became of one event:
 * - `projected`: logged; `row` says what happened to the snapshot (`updated`, `unchanged` when it already held the
 *   event, `none` for events about no row, `tooLarge` when the merged row no longer fits one entity);
 * - `ignored`: not one of ours or not projectable; logged as a warning, not retried.
 */
export type ProjectOutcome =
  | {
      status: 'projected';
      eventId: string;
      table: string;
      rowId: string;
      row: 'updated' | 'unchanged' | 'none' | 'tooLarge';
      /** Read-merge-write rounds the row took (0 when there is no row). */
      attempts: number;
    }
  | { status: 'ignored'; eventId: string | undefined; code: string; reason: string };

/** Another writer kept winning the race for a row; the invocation fails so Event Grid redelivers later. */
export class RowContentionError extends TransientError {
  override readonly name = 'RowContentionError';
  readonly code = 'RowContention';
  constructor(table: string, id: string, attempts: number) {
    super(
      `The snapshot of ${table}/${id} changed under each of ${attempts} attempts to update it; it will be retried.`,
    );
  }
}

const DEFAULT_ATTEMPTS = 10;

/**
 * Projects one event: appends it to the change log, notes its table, and merges it into the row's snapshot with
 * optimistic concurrency. Order-insensitive and idempotent (see `applyEvent`), so Event Grid's redeliveries and
 * reordering converge on the same state. The log append, the table note and the row read go out together, so the
 * steady state costs two sequential round trips.
 *
 * Storage failures throw (transient) so the invocation fails and Event Grid redelivers; an event that is not ours or
 * cannot be projected is logged and returned as `ignored`, because retrying it cannot help.
 *
 * @example
 * const outcome = await projectChange(event, { store: await getChangeStore(), log: context });
 * // { status: 'projected', eventId: '…', table: 'contact', rowId: '…', row: 'updated', attempts: 1 }
 */
export async function projectChange(event: unknown, deps: ProjectDeps): Promise<ProjectOutcome> {
  try {
    return await project(event, deps);
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    const eventId = (error as { eventId?: unknown }).eventId ?? idOf(event);
    deps.log?.warn(`Event ${eventId ?? '(no id)'} ignored by projectChanges: ${error.message}`);
    return {
      status: 'ignored',
      eventId: typeof eventId === 'string' ? eventId : undefined,
      code: error.code,
      reason: error.message,
    };
  }
}

async function project(event: unknown, deps: ProjectDeps): Promise<ProjectOutcome> {
  const { change, row } = toChange(event);
  const { store } = deps;
  const projected = { status: 'projected' as const, eventId: change.eventId, table: change.table, rowId: change.rowId };
  const [, , first] = await Promise.all([
    store.append(change),
    store.noteTable(change.table, deps.now?.() ?? new Date()),
    row === undefined ? undefined : store.readRow(change.table, change.rowId),
  ]);
  if (row === undefined) return { ...projected, row: 'none', attempts: 0 };
  const maxAttempts = deps.maxAttempts ?? DEFAULT_ATTEMPTS;
  let current = first;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      // Spread the contenders out a little, so they do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      current = await store.readRow(change.table, change.rowId);
    }
    const merged = applyEvent(current?.state, row);
    // Canonical states: equal JSON means the row already holds this event (a redelivery).
    if (current !== undefined && JSON.stringify(merged) === JSON.stringify(current.state)) {
      return { ...projected, row: 'unchanged', attempts: attempt };
    }
    let written: boolean;
    try {
      written = await store.writeRow(change.table, change.rowId, merged, current?.etag);
    } catch (error) {
      if (!(error instanceof RowTooLargeError)) throw error;
      deps.log?.warn(`Event ${change.eventId} is in the change log, but: ${error.message}`);
      return { ...projected, row: 'tooLarge', attempts: attempt };
    }
    if (written) return { ...projected, row: 'updated', attempts: attempt };
  }
  throw new RowContentionError(change.table, change.rowId, maxAttempts);
}

function idOf(event: unknown): string | undefined {
  const id = (event as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
}
