/**
 * Reconciliation: following Dataverse change tracking to publish what the bridge missed (a deleted Service Bus
 * namespace, a rotated key, a purged dead letter, a webhook down past Dataverse's retry). See `reconcile.ts`.
 */

/** What went wrong for one table, as recorded on a run. Never contains secrets. */
export interface ReconcileError {
  table: string;
  code: string;
  message: string;
}

/** What one run did for one table. */
export interface TableRun {
  table: string;
  /**
   * `delta`: the changes since the saved delta link; `full`: every row (the first run, or the saved delta token had
   * expired; `reason` says which).
   */
  pass: 'delta' | 'full';
  reason?: 'first run' | 'delta token expired';
  /** Rows (and deletions) change tracking returned and the bridge compared with its snapshots. */
  rowsChecked: number;
  /** Changed rows whose snapshot was older or missing, and deleted rows the bridge still held. */
  gapsFound: number;
  /** Gaps whose event is now published (by this run, or by a concurrent one: the dedupe key is the same). */
  gapsRepaired: number;
  /** Dataverse requests this table's pass made. */
  requests: number;
  /** Whether the new delta link was saved; when not, the next run starts again from the previous one. */
  deltaLinkSaved: boolean;
  error?: ReconcileError;
}

/** The record every run leaves (`GET /api/health` shows the latest). */
export interface ReconcileRun {
  /** Unique per run. */
  id: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** `failed` when some table could not be reconciled (its `error` says why); the others were. */
  status: 'succeeded' | 'failed';
  tables: TableRun[];
  rowsChecked: number;
  gapsFound: number;
  gapsRepaired: number;
  errors: ReconcileError[];
}

/** Where reconciliation keeps its state: one delta link per table, and the run records. */
export interface ReconcileStateStore {
  /** The delta link saved for the table, or `undefined` before its first complete pass. */
  readDeltaLink(table: string): Promise<string | undefined>;
  saveDeltaLink(table: string, link: string): Promise<void>;
  saveRun(run: ReconcileRun): Promise<void>;
  /** The newest run record, if any. */
  lastRun(): Promise<ReconcileRun | undefined>;
}
