import { getConfig } from '../config.js';
import { PublishFailedError } from '../events/errors.js';
import type { EventPublisher } from '../events/types.js';
import { lazy } from '../lazy.js';
import type { Storage } from '../store/connect.js';
import type { IngestDeps } from './ingest.js';

const storage = lazy(async () => {
  const { openStorage } = await import('../store/connect.js');
  return openStorage(getConfig().storage);
});
const deps = lazy(build);
/**
 * Where the local host's publisher is kept: a process-wide key, not a variable of this module, because the local host
 * runs from `dist/` while the app it loads is the bundle, which has its own copy of this module.
 */
const LOCAL_FAN_OUT = Symbol.for('dataverse-bridge.localFanOut');
const processWide = globalThis as { [LOCAL_FAN_OUT]?: EventPublisher };

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

async function build(): Promise<IngestDeps> {
  const config = getConfig();
  const [shared, { TableJobStore }, { BlobRawStore }] = await Promise.all([
    getStorage(),
    import('../store/tableJobStore.js'),
    import('../store/blobRawStore.js'),
  ]);
  const jobs = new TableJobStore(shared.table(shared.names.jobs));
  const raw = new BlobRawStore(shared.container());
  let publisher: EventPublisher;
  if (config.eventGrid) {
    const { EventGridPublisher } = await import('../events/eventGridPublisher.js');
    publisher = new EventGridPublisher(config.eventGrid);
  } else {
    publisher = processWide[LOCAL_FAN_OUT] ?? missingTopic;
  }
  return { jobs, raw, publisher, leaseSeconds: config.leaseSeconds };
}

/** Without a topic (and outside the local host) nothing can be published: keep the messages until one is set. */
const missingTopic: EventPublisher = {
  async send() {
    throw new PublishFailedError('EVENTGRID_TOPIC_ENDPOINT is not set, so events cannot be published yet');
  },
};
