import type { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { StorageSettings } from '../config.js';
import { lazy } from '../lazy.js';
import { verifyQueueName } from '../pipeline/hold.js';
import type { JobStore, RawStore } from '../pipeline/jobs.js';
import { BlobRawStore } from './blobRawStore.js';
import { statusOf, toStorageError } from './errors.js';
import { TableJobStore } from './tableJobStore.js';

// The SDKs are imported with `import()` on first use, never at the top of this file: loading them costs a Functions
// cold start tens of milliseconds, and `@azure/identity` is only needed when no connection string is given.

/** The tables and the container the app keeps its state in. */
export interface StorageNames {
  /** Job records (the dedupe gate and processing status). */
  jobs: string;
  /** The change log: one entity per event, per Dataverse table. */
  changes: string;
  /** The latest known snapshot of each row. */
  rows: string;
  /** The Dataverse tables seen so far. */
  tables: string;
  /** Webhook-trigger subscriptions (Power Automate callbacks). */
  subscriptions: string;
  /** Which subscriptions each event was delivered to, so Event Grid's retries do not call them twice. */
  deliveries: string;
  /** Reconciliation: one delta link per Dataverse table, and a record of each run. */
  reconcile: string;
  /** Raw bodies of rejected and failed messages. */
  container: string;
  /** The Storage queue of checks of held synchronous contexts (`verifyHeld`); the host adds `-poison` to it. */
  verifyQueue: string;
}

/**
 * The names of the tables and the raw-body container for a prefix (see `BRIDGE_STORAGE_PREFIX`).
 *
 * @example
 * storageNames('bridge').jobs;      // 'bridgejobs'
 * storageNames('bridge').container; // 'bridge-raw'
 */
export function storageNames(prefix: string): StorageNames {
  return {
    jobs: `${prefix}jobs`,
    changes: `${prefix}changes`,
    rows: `${prefix}rows`,
    tables: `${prefix}tables`,
    subscriptions: `${prefix}subscriptions`,
    deliveries: `${prefix}deliveries`,
    reconcile: `${prefix}reconcile`,
    container: `${prefix}-raw`,
    verifyQueue: verifyQueueName(prefix),
  };
}

/**
 * Builds the client for one of our tables (default: the jobs table). Makes no network call and does not create the
 * table. With identity settings and no `credential`, authenticates with `DefaultAzureCredential` (managed identity in
 * Azure).
 */
export async function openTableClient(
  settings: StorageSettings,
  credential?: TokenCredential,
  table: string = storageNames(settings.prefix).jobs,
): Promise<TableClient> {
  const { TableClient } = await import('@azure/data-tables');
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
 * Builds the client for one of our queues (default: the verification queue). Makes no network call and does not
 * create the queue. With identity settings, needs `__queueServiceUri` (or `__accountName`).
 */
export async function openQueueClient(
  settings: StorageSettings,
  credential?: TokenCredential,
  queue: string = storageNames(settings.prefix).verifyQueue,
): Promise<QueueClient> {
  const { QueueServiceClient } = await import('@azure/storage-queue');
  if (settings.kind === 'connectionString') {
    return QueueServiceClient.fromConnectionString(settings.connectionString).getQueueClient(queue);
  }
  if (settings.queueServiceUri === undefined) {
    throw new Error('AzureWebJobsStorage__queueServiceUri (or __accountName) is not set: no queue service to use.');
  }
  const service = new QueueServiceClient(
    settings.queueServiceUri,
    credential ?? (await identityCredential(settings.clientId)),
  );
  return service.getQueueClient(queue);
}

/** Lazily opened clients for our tables and container; see {@link openStorage}. */
export interface Storage {
  names: StorageNames;
  /** A function yielding the client for `table`, created on first use (the same function for the same name). */
  table(table: string): () => Promise<TableClient>;
  /** A function yielding the raw-body container's client, created on first use. */
  container(): () => Promise<ContainerClient>;
  /** A function yielding the client for `queue`, created on first use (the same function for the same name). */
  queue(queue: string): () => Promise<QueueClient>;
}

/**
 * Clients for every table and the container, each built (SDK loaded, table or container created if missing) on first
 * use and then shared. Concurrent first calls share the work; a failed attempt is forgotten so the next call tries
 * again. With identity settings, one credential serves every client, so they share its token cache.
 *
 * @example
 * const storage = openStorage(loadConfig().storage);
 * const rows = await storage.table(storage.names.rows)();
 */
export function openStorage(settings: StorageSettings): Storage {
  const names = storageNames(settings.prefix);
  const credential =
    settings.kind === 'identity' ? once(() => identityCredential(settings.clientId)) : async () => undefined;
  const table = onePerName(async (name) => {
    const opened = await openTableClient(settings, await credential(), name);
    try {
      // The SDK already treats "TableAlreadyExists" as success.
      await opened.createTable();
    } catch (error) {
      throw toStorageError(error, 'create table', `table ${name}`);
    }
    return opened;
  });
  const container = once(async () => {
    const client = await openContainerClient(settings, await credential());
    try {
      await client.createIfNotExists();
    } catch (error) {
      throw toStorageError(error, 'create container', `container ${names.container}`);
    }
    return client;
  });
  const queue = onePerName(async (name) => {
    const opened = await openQueueClient(settings, await credential(), name);
    try {
      await opened.createIfNotExists();
    } catch (error) {
      // In Azure the queue is provisioned (infra/) and the app's identity may only send to it, not create it.
      if (statusOf(error) !== 403) throw toStorageError(error, 'create queue', `queue ${name}`);
    }
    return opened;
  });
  return { names, table, container: () => container, queue };
}

/**
 * The job and raw-body stores for the settings. Returns at once: nothing is loaded or created until first use (see
 * {@link openStorage}). `storage` opens the app's other tables on the same credential.
 *
 * @example
 * const { jobs, raw } = createStores(loadConfig().storage);
 * await jobs.get(id);
 */
export function createStores(settings: StorageSettings): { jobs: JobStore; raw: RawStore; storage: Storage } {
  const storage = openStorage(settings);
  return {
    jobs: new TableJobStore(storage.table(storage.names.jobs)),
    raw: new BlobRawStore(storage.container()),
    storage,
  };
}

async function identityCredential(clientId: string | undefined): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential(clientId === undefined ? {} : { managedIdentityClientId: clientId });
}

/** {@link once} per name: the same function for the same name, so each client is opened (and made) once. */
function onePerName<T>(open: (name: string) => Promise<T>): (name: string) => () => Promise<T> {
  const opened = new Map<string, () => Promise<T>>();
  return (name) => {
    let client = opened.get(name);
    if (client === undefined) {
      client = once(() => open(name));
      opened.set(name, client);
    }
    return client;
  };
}

/** Memoizes an async step; a rejection is not kept, so the next call runs the step again. */
function once<T>(step: () => Promise<T>): () => Promise<T> {
  const value = lazy(step);
  return () => value.get();
}
