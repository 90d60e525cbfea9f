import type { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import type { StorageSettings } from '../config.js';
import { BlobRawStore } from './blobRawStore.js';
import { toStorageError } from './errors.js';
import { TableJobStore } from './tableJobStore.js';
import type { JobStore, RawStore } from './types.js';

// The SDKs are imported with `import()` on first use, never at the top of this file: loading them costs a Functions
// cold start tens of milliseconds, and `@azure/identity` is only needed when no connection string is given.

/**
 * The names of the jobs table and the raw-body container for a prefix (see `BRIDGE_STORAGE_PREFIX`).
 *
 * @example
 * storageNames('bridge'); // { table: 'bridgejobs', container: 'bridge-raw' }
 */
export function storageNames(prefix: string): { table: string; container: string } {
  return { table: `${prefix}jobs`, container: `${prefix}-raw` };
}

/**
 * Builds the client for the jobs table. Makes no network call and does not create the table. With identity
 * settings and no `credential`, authenticates with `DefaultAzureCredential` (managed identity in Azure).
 */
export async function openTableClient(settings: StorageSettings, credential?: TokenCredential): Promise<TableClient> {
  const { TableClient } = await import('@azure/data-tables');
  const { table } = storageNames(settings.prefix);
  if (settings.kind === 'connectionString') {
    // Azurite listens on http; the SDK refuses to send a shared key over http unless told to.
    return TableClient.fromConnectionString(settings.connectionString, table, { allowInsecureConnection: true });
  }
  return new TableClient(settings.tableServiceUri, table, credential ?? (await identityCredential(settings.clientId)));
}

/** Builds the client for the raw-body container. Makes no network call and does not create the container. */
export async function openContainerClient(
  settings: StorageSettings,
  credential?: TokenCredential,
): Promise<ContainerClient> {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const { container } = storageNames(settings.prefix);
  const service =
    settings.kind === 'connectionString'
      ? BlobServiceClient.fromConnectionString(settings.connectionString)
      : new BlobServiceClient(settings.blobServiceUri, credential ?? (await identityCredential(settings.clientId)));
  return service.getContainerClient(container);
}

/**
 * The job and raw-body stores for the settings. Returns at once: the SDKs are loaded, and the table and container
 * created if missing, on first use, once per returned pair (concurrent first calls share the work; a failed attempt
 * is forgotten so the next call tries again).
 *
 * @example
 * const { jobs, raw } = createStores(loadConfig().storage);
 * await jobs.get(id);
 */
export function createStores(settings: StorageSettings): { jobs: JobStore; raw: RawStore } {
  const { table, container } = storageNames(settings.prefix);
  // One credential for both clients, so they share its token cache.
  const credential =
    settings.kind === 'identity' ? once(() => identityCredential(settings.clientId)) : async () => undefined;
  const tableClient = once(async () => {
    const client = await openTableClient(settings, await credential());
    try {
      // The SDK already treats "TableAlreadyExists" as success.
      await client.createTable();
    } catch (error) {
      throw toStorageError(error, 'create table', `table ${table}`);
    }
    return client;
  });
  const containerClient = once(async () => {
    const client = await openContainerClient(settings, await credential());
    try {
      await client.createIfNotExists();
    } catch (error) {
      throw toStorageError(error, 'create container', `container ${container}`);
    }
    return client;
  });
  return { jobs: new TableJobStore(tableClient), raw: new BlobRawStore(containerClient) };
}

async function identityCredential(clientId: string | undefined): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential(clientId === undefined ? {} : { managedIdentityClientId: clientId });
}

/** Memoizes an async step; a rejection is not kept, so the next call runs the step again. */
function once<T>(step: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= step().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
