import { app, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import type { EventGridTarget } from '../shared/connector/health.js';
import { httpTrigger } from '../shared/connector/operations.js';
import { getDataverseApi, getIngestDeps, getReconcileState, usesLocalFanOut } from '../shared/runtime.js';

/** Version, and whether storage, the Event Grid topic and (when configured) Dataverse answer (200 healthy, 503 not). Anonymous. */
export async function health(): Promise<HttpResponseInit> {
  const { appVersion, health: healthResponse } = await import('../shared/connector/health.js');
  const config = getConfig();
  const eventGrid: EventGridTarget = config.eventGrid
    ? { kind: 'topic', endpoint: config.eventGrid.endpoint }
    : usesLocalFanOut()
      ? { kind: 'local' }
      : { kind: 'none' };
  return healthResponse({
    // A point read of a job that cannot exist: one round trip, and it creates the jobs table if missing.
    pingStorage: async () => {
      const { jobs } = await getIngestDeps();
      await jobs.get('0'.repeat(32));
    },
    eventGrid,
    version: appVersion(),
    ...(config.reconcile.tables.length > 0
      ? { lastReconciliation: async () => (await getReconcileState()).lastRun() }
      : {}),
    ...(config.dataverse
      ? {
          pingDataverse: async () => {
            const api = await getDataverseApi();
            await api.whoAmI();
            const { lastHourFailures } = await import('../shared/dataverseApi/systemJobs.js');
            return lastHourFailures(api);
          },
        }
      : {}),
  });
}

app.http('health', { ...httpTrigger('health'), handler: health });
