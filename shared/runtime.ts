/**
 * The composition root: every adapter the functions use is built here, on first use, and shared by every invocation
 * of the process. Function files call the getters below; domain modules never import adapters, and never this file.
 *
 * What is wired:
 * - storage (`getStorage`): the Table and Blob clients of `AzureWebJobsStorage`, one credential, tables made once;
 * - the ingest pipeline (`getIngestDeps`): the job and raw stores, and the Event Grid publisher, or the local host's
 *   in-process fan-out (`useLocalFanOut`) when no topic is set; with `DATAVERSE_URL` set, what enrichment reads (the
 *   Dataverse client and the row snapshots);
 * - the change store (`getChangeStore`), for `projectChanges` and the connector's change operations;
 * - delivery (`getDeliveryDeps`, `getSubscriptionStore`), for `deliverSubscriptions` and the subscription operations;
 * - the Dataverse Web API client (`getDataverseApi`), when `DATAVERSE_URL` is set (`dataverseConfigured`);
 * - reconciliation's state (`getReconcileState`): delta links and run records;
 * - the hold of synchronous contexts: the verification queue in the pipeline's `hold` when `config.verify.enabled`,
 *   and what `verifyHeld` needs (`getVerifyDeps`);
 * - the bearer-token validator of connector users (`getTokenValidator`), when `BRIDGE_AUTH_TENANT_ID` is set.
 *
 * Test seams: `setIngestDeps`, `setChangeStore` and `setDataverseApi` replace what is built (`undefined` restores the default).
 * The SDKs load inside the builders, not when a function file loads, so a function pays only for what it uses.
 */
import type { TokenValidator } from './auth/bearerToken.js';
import type { ChangeStore } from './changes/types.js';
import { getConfig } from './config.js';
import type { DataverseOperationDeps } from './connector/dataverseIdentity.js';
import type { DataverseApi } from './dataverseApi/types.js';
import { PublishFailedError } from './events/errors.js';
import type { EventPublisher } from './events/types.js';
import { lazy } from './lazy.js';
import type { HoldQueue } from './pipeline/hold.js';
import type { IngestDeps } from './pipeline/ingest.js';
import type { VerifyDeps } from './pipeline/verify.js';
import type { ReconcileStateStore } from './reconcile/types.js';
import type { Storage } from './store/connect.js';
import type { DeliveryDeps } from './subscriptions/deliver.js';
import type { SubscriptionStore } from './subscriptions/types.js';

const storage = lazy(async () => {
  const { openStorage } = await import('./store/connect.js');
  return openStorage(getConfig().storage);
});
const deps = lazy(build);
const changeStore = lazy(buildChangeStore);
const deliveryDeps = lazy(buildDeliveryDeps);
const reconcileState = lazy(async () => {
  const [shared, { TableReconcileStore }] = await Promise.all([getStorage(), import('./store/tableReconcileStore.js')]);
  return new TableReconcileStore(shared.table(shared.names.reconcile)) as ReconcileStateStore;
});
/**
 * Where the local host's publisher is kept: a process-wide key, not a variable of this module, because the local host
 * runs from `dist/` while the app it loads is the bundle, which has its own copy of this module.
 */
const LOCAL_FAN_OUT = Symbol.for('dataverse-bridge.localFanOut');
const processWide = globalThis as { [LOCAL_FAN_OUT]?: EventPublisher };

const dataverse = lazy(async () => {
  const settings = getConfig().dataverse;
  if (!settings) throw new Error('DATAVERSE_URL is not set, so Dataverse features are off.');
  const { openDataverse } = await import('./dataverseApi/open.js');
  // Retries go to the host's log (Application Insights in Azure); the lines hold no header or token.
  return openDataverse(settings, { log: (line) => console.warn(line) });
});

/**
 * Used by the local host (`npm start`): when no Event Grid topic is configured, events are handed to this publisher
 * in-process instead.
 */
export function useLocalFanOut(publisher: EventPublisher): void {
  processWide[LOCAL_FAN_OUT] = publisher;
  deps.set(undefined);
}

/** Whether events go to the local host's in-process fan-out (no topic configured, running under `npm start`). */
export function usesLocalFanOut(): boolean {
  return processWide[LOCAL_FAN_OUT] !== undefined && getConfig().eventGrid === undefined;
}

/** Replaces the pipeline's dependencies (tests wire real adapters against Azurite and a local receiver). */
export function setIngestDeps(value: IngestDeps | undefined): void {
  deps.set(value);
}

/**
 * The app's storage clients (see `openStorage`), shared by every function of the process so they share one credential
 * and create each table once. Loads the store module on first use.
 */
export function getStorage(): Promise<Storage> {
  return storage.get();
}

/**
 * The pipeline's dependencies, built on first use and then shared by every invocation of the process. The storage and
 * Event Grid SDKs load here rather than at start-up, so functions that do not ingest never pay for them.
 */
export function getIngestDeps(): Promise<IngestDeps> {
  return deps.get();
}

/**
 * The process-wide change store: the change log, row snapshots and table list in the app's storage (see
 * `getStorage`), shared by `projectChanges` and the connector's change functions. Tables are created on first use.
 *
 * @example
 * const reader = await getChangeStore();
 * await reader.getRow('account', id);
 */
export function getChangeStore(): Promise<ChangeStore> {
  return changeStore.get();
}

/** Replaces the process-wide change store (tests wire one against Azurite); `undefined` restores the default. */
export function setChangeStore(value: ChangeStore | undefined): void {
  changeStore.set(value);
}

/**
 * What `deliverSubscriptions` needs, built on first use and shared by every invocation of the process: the
 * subscription store and delivery log over the app's storage (tables `<prefix>subscriptions` and
 * `<prefix>deliveries`), an `HttpCallbackSender` in the app's mode, and the `delivery` settings.
 */
export function getDeliveryDeps(): Promise<DeliveryDeps> {
  return deliveryDeps.get();
}

/** The subscription store, for the connector's subscription endpoints. */
export async function getSubscriptionStore(): Promise<SubscriptionStore> {
  return (await getDeliveryDeps()).subscriptions;
}

async function build(): Promise<IngestDeps> {
  const config = getConfig();
  const [shared, { TableJobStore }, { BlobRawStore }] = await Promise.all([
    getStorage(),
    import('./store/tableJobStore.js'),
    import('./store/blobRawStore.js'),
  ]);
  const jobs = new TableJobStore(shared.table(shared.names.jobs));
  const raw = new BlobRawStore(shared.container());
  const hold = config.verify.enabled
    ? { hold: { queue: await getHoldQueue(), delaySeconds: config.verify.delaySeconds } }
    : {};
  let publisher: EventPublisher;
  if (config.eventGrid) {
    const { EventGridPublisher } = await import('./events/eventGridPublisher.js');
    publisher = new EventGridPublisher(config.eventGrid);
  } else {
    publisher = processWide[LOCAL_FAN_OUT] ?? missingTopic;
  }
  // With Dataverse configured, events carry the bridge's additions (truncated rows, previous values): enrich.ts.
  const enrich: IngestDeps['enrich'] = config.dataverse
    ? {
        dataverse: getDataverseApi,
        rows: { readRow: async (table, id) => (await getChangeStore()).readRow(table, id) },
      }
    : undefined;
  return { jobs, raw, publisher, leaseSeconds: config.leaseSeconds, ...hold, ...(enrich ? { enrich } : {}) };
}

const holdQueue = lazy(async (): Promise<HoldQueue> => {
  const [shared, { StorageHoldQueue }] = await Promise.all([getStorage(), import('./store/storageHoldQueue.js')]);
  return new StorageHoldQueue(shared.queue(shared.names.verifyQueue));
});

/** The verification queue (`<prefix>-verify`, created on first use) that held synchronous contexts wait in. */
export function getHoldQueue(): Promise<HoldQueue> {
  return holdQueue.get();
}

/**
 * What `verifyHeld` needs: the pipeline (its publish path), the app's Dataverse client (none when `DATAVERSE_URL` is
 * unset), the row snapshots (a Delete seen after the operation), the verification queue and the `BRIDGE_VERIFY_*`
 * settings.
 */
export async function getVerifyDeps(): Promise<VerifyDeps> {
  const { verify, dataverse: configured } = getConfig();
  const [ingest, api, queue, rows] = await Promise.all([
    getIngestDeps(),
    configured ? getDataverseApi() : undefined,
    getHoldQueue(),
    getChangeStore(),
  ]);
  return {
    ingest,
    ...(api ? { api } : {}),
    rows,
    queue,
    delaySeconds: verify.delaySeconds,
    windowSeconds: verify.windowSeconds,
  };
}

async function buildChangeStore(): Promise<ChangeStore> {
  // The store module loads here, on first use, not when the function files load.
  const [shared, { TableChangeStore }] = await Promise.all([getStorage(), import('./store/tableChangeStore.js')]);
  return new TableChangeStore({
    changes: shared.table(shared.names.changes),
    rows: shared.table(shared.names.rows),
    tables: shared.table(shared.names.tables),
  });
}

async function buildDeliveryDeps(): Promise<DeliveryDeps> {
  const config = getConfig();
  const [shared, { TableSubscriptionStore }, { TableDeliveryLog }, { HttpCallbackSender }] = await Promise.all([
    getStorage(),
    import('./store/tableSubscriptionStore.js'),
    import('./store/tableDeliveryLog.js'),
    import('./subscriptions/callbackSender.js'),
  ]);
  return {
    subscriptions: new TableSubscriptionStore(shared.table(shared.names.subscriptions)),
    deliveries: new TableDeliveryLog(shared.table(shared.names.deliveries)),
    sender: new HttpCallbackSender({ localMode: config.localMode }),
    unhealthyAfter: config.delivery.unhealthyAfter,
    timeoutMs: config.delivery.timeoutSeconds * 1000,
    localMode: config.localMode,
  };
}

/** Without a topic (and outside the local host) nothing can be published: keep the messages until one is set. */
const missingTopic: EventPublisher = {
  async send() {
    throw new PublishFailedError('EVENTGRID_TOPIC_ENDPOINT is not set, so events cannot be published yet');
  },
};

/** Whether Dataverse is configured (`DATAVERSE_URL` set). */
export function dataverseConfigured(): boolean {
  return getConfig().dataverse !== undefined;
}

/**
 * The app's Dataverse client, built on first use and shared by every invocation of the process (one token cache, one
 * metadata cache). Throws when `DATAVERSE_URL` is unset: check {@link dataverseConfigured} first.
 */
export function getDataverseApi(): Promise<DataverseApi> {
  return dataverse.get();
}

/** Replaces the Dataverse client (tests wire one against the local double); `undefined` restores the default. */
export function setDataverseApi(value: DataverseApi | undefined): void {
  dataverse.set(value);
}

/** Reconciliation's delta links and run records (table `<prefix>reconcile`), for `reconcileChanges` and health. */
export function getReconcileState(): Promise<ReconcileStateStore> {
  return reconcileState.get();
}

/** Replaces reconciliation's state store (tests); `undefined` restores the default. */
export function setReconcileState(value: ReconcileStateStore | undefined): void {
  reconcileState.set(value);
}

const tokenValidator = lazy(async () => {
  const settings = getConfig().auth;
  if (!settings) return undefined;
  const { tokenValidator: build } = await import('./auth/bearerToken.js');
  return build(settings);
});

/**
 * The validator of Microsoft Entra ID bearer tokens (one signing-key cache per process), or undefined when
 * `BRIDGE_AUTH_TENANT_ID` is unset.
 */
export function getTokenValidator(): Promise<TokenValidator | undefined> {
  return tokenValidator.get();
}

/** What the connector's Dataverse operations need: the settings, the app's client and the token validator, lazily. */
export function getDataverseOperationDeps(): DataverseOperationDeps {
  const config = getConfig();
  return {
    configured: config.dataverse !== undefined,
    auth: config.auth,
    appOperations: config.dataverseAppOperations,
    api: getDataverseApi,
    validator: getTokenValidator,
  };
}
