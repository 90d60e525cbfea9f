import { app, type InvocationContext, type Timer } from '@azure/functions';
import { getConfig, SETTINGS } from '../shared/config.js';
import type { ReconcileRun } from '../shared/reconcile/types.js';
import { getChangeStore, getDataverseApi, getIngestDeps, getReconcileState } from '../shared/runtime.js';

/**
 * On `BRIDGE_RECONCILE_SCHEDULE`: follows Dataverse change tracking for the tables in `BRIDGE_RECONCILE_TABLES` and
 * publishes, through the pipeline, the changes the bridge missed (see `shared/reconcile/reconcile.ts`). Returns the
 * run record; a run in which some table failed fails the invocation (after recording it), so monitoring sees it.
 */
export async function reconcileChanges(_timer: Timer, context: InvocationContext): Promise<ReconcileRun | undefined> {
  const { tables } = getConfig().reconcile;
  if (tables.length === 0) {
    context.log(`Reconciliation is off: ${SETTINGS.reconcileTables} names no table.`);
    return undefined;
  }
  const [api, snapshots, ingest, state, { reconcile }] = await Promise.all([
    getDataverseApi(),
    getChangeStore(),
    getIngestDeps(),
    getReconcileState(),
    import('../shared/reconcile/reconcile.js'),
  ]);
  const run = await reconcile(tables, { api, snapshots, ingest: { ...ingest, log: context }, state, log: context });
  if (run.status === 'failed') {
    throw new Error(
      `Reconciliation run ${run.id} failed for ${run.errors.map((e) => `${e.table} (${e.message})`).join('; ')}`,
    );
  }
  return run;
}

getConfig(); // validates every setting at start-up

app.timer('reconcileChanges', { schedule: `%${SETTINGS.reconcileSchedule}%`, handler: reconcileChanges });
