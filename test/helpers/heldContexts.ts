import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { DataverseDouble } from '../doubles/dataverse.js';

/**
 * A started Dataverse double with a `contact` table that keeps `modifiedon` (to the second, read from `now`): what the
 * checks of held synchronous contexts read.
 */
export async function startContactDouble(now?: () => Date): Promise<DataverseDouble> {
  const dataverse = new DataverseDouble(now ? { now } : {});
  dataverse.seedTable({
    logicalName: 'contact',
    primaryNameAttribute: 'fullname',
    columns: [
      { logicalName: 'fullname', type: 'String' },
      { logicalName: 'modifiedon', type: 'DateTime', validForCreate: false, validForUpdate: false },
    ],
  });
  await dataverse.start();
  return dataverse;
}

/** The app's Web API client against a double, with short retries so "Dataverse down" tests do not wait. */
export function doubleClient(url: string): WebApiClient {
  return new WebApiClient(
    new DataverseTransport({
      url,
      timeoutMs: 5_000,
      retryBudgetMs: 1_000,
      backoffBaseMs: 1,
      backoffCapMs: 5,
      maxAttempts: 2,
    }),
  );
}
