import type { TableClient } from '@azure/data-tables';
import type { ReconcileRun, ReconcileStateStore } from '../reconcile/types.js';
import { toStorageError } from './errors.js';

const DELTA = 'deltalink';
const RUN = 'run';
/** Row keys of runs sort newest first: the milliseconds left until this constant, zero-padded. */
const LATEST = 9_999_999_999_999;

/**
 * {@link ReconcileStateStore} over one Azure Table (`<prefix>reconcile`): partition `deltalink` holds one entity per
 * Dataverse table (row key = its logical name) with its delta link; partition `run` one entity per run, keyed so the
 * newest sorts first, with the run as JSON.
 *
 * @example
 * const state = new TableReconcileStore(storage.table(storage.names.reconcile));
 * await state.saveDeltaLink('account', link);
 */
export class TableReconcileStore implements ReconcileStateStore {
  private readonly client: () => Promise<TableClient>;

  constructor(client: TableClient | (() => Promise<TableClient>)) {
    this.client = typeof client === 'function' ? client : async () => client;
  }

  async readDeltaLink(table: string): Promise<string | undefined> {
    const client = await this.client();
    try {
      const entity = await client.getEntity<{ link?: string }>(DELTA, table);
      return typeof entity.link === 'string' ? entity.link : undefined;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw toStorageError(error, 'read delta link', `table ${client.tableName}`);
    }
  }

  async saveDeltaLink(table: string, link: string): Promise<void> {
    const client = await this.client();
    try {
      await client.upsertEntity(
        { partitionKey: DELTA, rowKey: table, link, savedAt: new Date().toISOString() },
        'Replace',
      );
    } catch (error) {
      throw toStorageError(error, 'save delta link', `table ${client.tableName}`);
    }
  }

  async saveRun(run: ReconcileRun): Promise<void> {
    const client = await this.client();
    const rowKey = `${String(LATEST - Date.parse(run.startedAt)).padStart(13, '0')}-${run.id}`;
    try {
      await client.upsertEntity(
        { partitionKey: RUN, rowKey, status: run.status, startedAt: run.startedAt, run: JSON.stringify(run) },
        'Replace',
      );
    } catch (error) {
      throw toStorageError(error, 'save reconciliation run', `table ${client.tableName}`);
    }
  }

  async lastRun(): Promise<ReconcileRun | undefined> {
    const client = await this.client();
    const { odata } = await import('@azure/data-tables');
    try {
      const pages = client
        .listEntities<{ run?: string }>({ queryOptions: { filter: odata`PartitionKey eq ${RUN}`, select: ['run'] } })
        .byPage({ maxPageSize: 1 });
      for await (const page of pages) {
        const first = page[0];
        return typeof first?.run === 'string' ? (JSON.parse(first.run) as ReconcileRun) : undefined;
      }
      return undefined;
    } catch (error) {
      throw toStorageError(error, 'read reconciliation runs', `table ${client.tableName}`);
    }
  }
}
