import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { sameValue } from '../changes/previousValues.js';
import type { ChangeReader, RowSnapshot } from '../changes/types.js';
import { isDataverseError } from '../dataverseApi/errors.js';
import type { ChangePage, DataverseApi, Row, RowChange } from '../dataverseApi/types.js';
import type { Logger } from '../logger.js';
import type { InboundMessage } from '../pipeline/inbound.js';
import { type IngestDeps, ingest } from '../pipeline/ingest.js';
import {
  deleteContext,
  deleteTime,
  reconcileOperationId,
  rowAttributes,
  rowVersion,
  upsertContext,
} from './contexts.js';
import { ReconcileConfigError } from './errors.js';
import type { ReconcileError, ReconcileRun, ReconcileStateStore, TableRun } from './types.js';

/** What a run needs: Dataverse, the bridge's snapshots, the pipeline, and where to keep delta links and run records. */
export interface ReconcileDeps {
  api: DataverseApi;
  snapshots: Pick<ChangeReader, 'getRow'>;
  ingest: IngestDeps;
  state: ReconcileStateStore;
  log?: Logger;
  /** `Prefer: odata.maxpagesize` of a full pass (default 5,000, Dataverse's maximum: the fewest requests). */
  pageSize?: number;
  now?: () => Date;
}

/** Dataverse's `ExpiredVersionStamp`: the delta token is older than the organization keeps change history. */
const EXPIRED_VERSION_STAMP = '0x80044352';
/** Snapshot reads in flight at once. */
const SNAPSHOT_CONCURRENCY = 16;

/**
 * One reconciliation run over `tables`: for each, follows Dataverse change tracking from the saved delta link (or
 * starts a full pass: the first run, or an expired token), compares every changed row with the bridge's snapshot,
 * and publishes through the pipeline only the gaps:
 * - a row the bridge never saw (`Create`), or whose snapshot is older than the row's `modifiedon` or holds a column
 *   whose value differs from the row's (`Update`: an earlier change was lost, a later one arrived), with every
 *   column the row has;
 * - a deleted row the bridge still holds (`Delete`).
 * Each such event is marked as reconciliation (`bridgeorigin: reconciliation`, `initiatingUserAgent`) and keyed by
 * table, row id and row version, so a second pass, a redelivery or a concurrent run never publishes it twice.
 *
 * A table's new delta link is saved only once every gap it found is published; otherwise (Dataverse unavailable past
 * the client's retry budget, Event Grid down, storage down) the next run starts again from the previous link, and
 * the dedupe keys make the repeat safe. Tables are independent: one failing does not stop the others. The run record
 * is saved and returned; it never throws for a table's problem.
 *
 * Date-times in Dataverse are kept to the second, so a change made in the same second as the newest event the bridge
 * saw for a row is not told apart from it (see README, "Reconciliation").
 *
 * @example
 * const run = await reconcile(['account', 'contact'], { api, snapshots, ingest: ingestDeps, state });
 * // { status: 'succeeded', rowsChecked: 1200, gapsFound: 3, gapsRepaired: 3, tables: [...], ... }
 */
export async function reconcile(tables: readonly string[], deps: ReconcileDeps): Promise<ReconcileRun> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const results: TableRun[] = [];
  // Asked once per run, and only when a gap needs it; concurrent askers share the one request.
  let organizationId: Promise<string> | undefined;
  const organization = () => {
    organizationId ??= deps.api.whoAmI().then((me) => me.organizationId);
    organizationId.catch(() => {
      organizationId = undefined;
    });
    return organizationId;
  };
  for (const table of tables) {
    const run = new TableReconciliation(table, deps, organization);
    results.push(await run.run());
  }
  const finished = now();
  const errors = results.flatMap((t) => (t.error ? [t.error] : []));
  const record: ReconcileRun = {
    id: randomUUID(),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    status: errors.length === 0 ? 'succeeded' : 'failed',
    tables: results,
    rowsChecked: sum(results, 'rowsChecked'),
    gapsFound: sum(results, 'gapsFound'),
    gapsRepaired: sum(results, 'gapsRepaired'),
    errors,
  };
  try {
    await deps.state.saveRun(record);
  } catch (error) {
    deps.log?.error(`Reconciliation run ${record.id} could not be recorded: ${(error as Error).message}`);
  }
  deps.log?.log(
    `Reconciliation ${record.status}: ${record.rowsChecked} rows checked, ${record.gapsFound} gaps found, ${record.gapsRepaired} repaired in ${record.durationMs} ms (${results.map((t) => `${t.table}: ${t.pass}${t.reason ? `, ${t.reason}` : ''}`).join('; ')}).`,
  );
  return record;
}

class TableReconciliation {
  private readonly result: TableRun;
  private readonly snapshots = pLimit(SNAPSHOT_CONCURRENCY);
  /** Gaps whose publication is not settled (failed, or busy in another run): the delta link must not move on. */
  private unsettled = 0;

  constructor(
    private readonly table: string,
    private readonly deps: ReconcileDeps,
    private readonly organizationId: () => Promise<string>,
  ) {
    this.result = {
      table,
      pass: 'delta',
      rowsChecked: 0,
      gapsFound: 0,
      gapsRepaired: 0,
      requests: 0,
      deltaLinkSaved: false,
    };
  }

  async run(): Promise<TableRun> {
    try {
      await this.checkTable();
      let page = await this.firstPage();
      for (;;) {
        await this.handle(page.changes);
        if (!page.nextLink) break;
        page = await this.request(() => this.deps.api.nextChanges(this.table, page.nextLink as string));
      }
      if (this.unsettled > 0) {
        this.result.error = {
          table: this.table,
          code: 'GapsNotPublished',
          message: `${this.unsettled} gap(s) of ${this.table} could not be published yet; the next run starts again from the previous delta link.`,
        };
      } else if (page.deltaLink) {
        await this.deps.state.saveDeltaLink(this.table, page.deltaLink);
        this.result.deltaLinkSaved = true;
      }
    } catch (error) {
      this.result.error = toError(this.table, error);
    }
    if (this.result.error) {
      this.deps.log?.error(`Reconciliation of ${this.table} failed: ${this.result.error.message}`);
    }
    return this.result;
  }

  /** A table that cannot be tracked is a configuration error naming it, not a Dataverse failure. */
  private async checkTable(): Promise<void> {
    const setting = 'BRIDGE_RECONCILE_TABLES';
    let changeTrackingEnabled: boolean;
    try {
      ({ changeTrackingEnabled } = await this.request(() => this.deps.api.getTable(this.table)));
    } catch (error) {
      if (isDataverseError(error) && error.status === 404) {
        throw new ReconcileConfigError(
          `${setting} names the table "${this.table}", which Dataverse does not have: use a table's logical name (e.g. account).`,
        );
      }
      throw error;
    }
    if (!changeTrackingEnabled) {
      throw new ReconcileConfigError(
        `${setting} names the table "${this.table}", but change tracking is off for it: turn on "Track changes" (Power Apps, Tables, ${this.table}, Properties, Advanced options), or remove it from ${setting}.`,
      );
    }
  }

  private async firstPage(): Promise<ChangePage> {
    const saved = await this.deps.state.readDeltaLink(this.table);
    if (saved !== undefined) {
      try {
        return await this.request(() => this.deps.api.nextChanges(this.table, saved));
      } catch (error) {
        if (!(isDataverseError(error) && error.dataverseCode === EXPIRED_VERSION_STAMP)) throw error;
        return this.fullPass('delta token expired');
      }
    }
    return this.fullPass('first run');
  }

  private fullPass(reason: 'first run' | 'delta token expired'): Promise<ChangePage> {
    this.result.pass = 'full';
    this.result.reason = reason;
    this.deps.log?.warn(`Reconciliation of ${this.table}: full pass over every row (${reason}).`);
    return this.request(() => this.deps.api.trackChanges(this.table, { pageSize: this.deps.pageSize ?? 5000 }));
  }

  private async request<T>(call: () => Promise<T>): Promise<T> {
    this.result.requests++;
    return call();
  }

  /** Compares one page of changes with the snapshots and publishes the gaps, in one pipeline batch. */
  private async handle(changes: readonly RowChange[]): Promise<void> {
    this.result.rowsChecked += changes.length;
    const found = await Promise.all(
      changes.map((change) =>
        this.snapshots(async () => this.gap(change, await this.deps.snapshots.getRow(this.table, change.id))),
      ),
    );
    const gaps = found.filter((message): message is InboundMessage => message !== undefined);
    this.result.gapsFound += gaps.length;
    if (gaps.length === 0) return;
    const { outcomes } = await ingest(gaps, this.deps.ingest);
    for (const outcome of outcomes) {
      if (outcome.status === 'published' || outcome.status === 'duplicate') this.result.gapsRepaired++;
      else if (outcome.status === 'rejected') {
        // Retrying cannot help; it is recorded as a rejected job (with its bytes) for replay after a fix.
        this.deps.log?.error(`Reconciliation event for ${this.table} rejected as job ${outcome.jobId}.`);
      } else this.unsettled++;
    }
  }

  /** The message that fills the gap for this change, or `undefined` when the bridge is up to date on the row. */
  private async gap(change: RowChange, snapshot: RowSnapshot | undefined): Promise<InboundMessage | undefined> {
    const id = change.id.toLowerCase();
    if (change.kind === 'delete') {
      if (snapshot === undefined || snapshot.deleted) return undefined;
      return this.message(
        deleteContext({
          table: this.table,
          id,
          organizationId: await this.organizationId(),
          operationId: reconcileOperationId(this.table, id, `delete\n${snapshot.lastEventId}`),
          operationCreatedOn: deleteTime(snapshot),
        }),
      );
    }
    const modifiedOn = modifiedOnOf(change.row);
    const attributes = rowAttributes(change.row);
    if (
      snapshot !== undefined &&
      modifiedOn !== undefined &&
      !olderThan(snapshot.updatedAt, modifiedOn) &&
      !holdsStaleValue(snapshot, attributes)
    ) {
      return undefined;
    }
    const version = rowVersion(change.row) ?? modifiedOn ?? 'unversioned';
    return this.message(
      upsertContext({
        table: this.table,
        id,
        organizationId: await this.organizationId(),
        operationId: reconcileOperationId(this.table, id, version),
        // Without `modifiedon` the row is dated by its snapshot (or not at all); the version keeps the key stable.
        operationCreatedOn: modifiedOn ?? new Date(0).toISOString(),
        message: snapshot === undefined || snapshot.deleted ? 'Create' : 'Update',
        attributes,
      }),
    );
  }

  private message(context: Record<string, unknown>): InboundMessage {
    return {
      body: Buffer.from(JSON.stringify(context), 'utf8'),
      source: 'reconciliation',
      transport: { contentType: 'application/json' },
    };
  }
}

/**
 * Whether the snapshot holds a column whose value is not the row's: the snapshot is as new as the row by time, yet an
 * earlier change to that column never reached the bridge (lost, then a later change of other columns arrived).
 * Only columns both sides have are compared: events carry the columns the caller set (and the step's images), while
 * the row has every column. Values compare as Dataverse means them (`sameValue`); the Web API writes a multi-select
 * choice as `"1,2"` where the context has `[1, 2]`.
 */
function holdsStaleValue(snapshot: RowSnapshot, row: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(snapshot.attributes).some(
    ([column, value]) => column in row && !sameValue(value, multiSelectAsArray(row[column], value)),
  );
}

function multiSelectAsArray(rowValue: unknown, snapshotValue: unknown): unknown {
  if (typeof rowValue !== 'string' || !Array.isArray(snapshotValue) || !/^\d+(,\d+)*$/.test(rowValue)) return rowValue;
  return rowValue.split(',').map(Number);
}

/** The row's `modifiedon` as ISO 8601 UTC, when the table has it. */
function modifiedOnOf(row: Row): string | undefined {
  const value = row.modifiedon;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return undefined;
  return new Date(value).toISOString();
}

/**
 * Whether the snapshot's newest event is older than the row's `modifiedon`. Dataverse keeps `modifiedon` to the
 * second while an event's `operationCreatedOn` has milliseconds, so the snapshot's time is cut to the second first:
 * the event of the very change that set `modifiedon` is then not mistaken for an older one.
 */
function olderThan(snapshotTime: string, modifiedOn: string): boolean {
  const snapshotSecond = Math.floor(Date.parse(snapshotTime) / 1000) * 1000;
  return snapshotSecond < Date.parse(modifiedOn);
}

function toError(table: string, error: unknown): ReconcileError {
  const code = (error as { code?: unknown }).code;
  return {
    table,
    code: typeof code === 'string' ? code : 'Unexpected',
    message: error instanceof Error ? error.message : String(error),
  };
}

function sum(runs: readonly TableRun[], key: 'rowsChecked' | 'gapsFound' | 'gapsRepaired'): number {
  return runs.reduce((total, run) => total + run[key], 0);
}
