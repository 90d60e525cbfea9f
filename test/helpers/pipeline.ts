import { createHash, randomUUID } from 'node:crypto';
import { EventGridPublisher } from '../../shared/events/eventGridPublisher.js';
import type { PublishLimits } from '../../shared/events/types.js';
import type { InboundMessage } from '../../shared/pipeline/inbound.js';
import { type IngestDeps, type IngestResult, ingest } from '../../shared/pipeline/ingest.js';
import type { JobStore, RawStore } from '../../shared/pipeline/jobs.js';
import { createStores, openStorage } from '../../shared/store/connect.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import type { TestAzurite } from './azurite.js';
import { dataContractJson } from './contexts.js';
import { startEventGridReceiver } from './eventGridReceiver.js';
import { contextNames, rawContext } from './fixtures.js';

export const TOPIC_KEY = 'test-topic-key-0123456789';
export const ORGANIZATION_PROPERTY = 'http://schemas.microsoft.com/xrm/2011/Claims/Organization';

type Receiver = Awaited<ReturnType<typeof startEventGridReceiver>>;
type Fault = Parameters<Receiver['setFault']>[0];

export interface PipelineHarness {
  deps: IngestDeps;
  jobs: JobStore;
  raw: RawStore;
  receiver: Receiver;
  stop(): Promise<void>;
}

/**
 * The real pipeline against real local peers: Table and Blob storage in Azurite (a fresh prefix per harness) and the
 * real Event Grid client posting to a local receiver.
 */
export async function startPipeline(
  azurite: TestAzurite,
  options: {
    fault?: Fault;
    limits?: PublishLimits;
    timeoutMs?: number;
    leaseSeconds?: number;
    jobs?: (jobs: JobStore) => JobStore;
  } = {},
): Promise<PipelineHarness> {
  const receiver = await startEventGridReceiver({ key: TOPIC_KEY, ...(options.fault ? { fault: options.fault } : {}) });
  const prefix = `t${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const stores = createStores({ kind: 'connectionString', connectionString: azurite.connectionString, prefix });
  const jobs = options.jobs ? options.jobs(stores.jobs) : stores.jobs;
  const publisher = new EventGridPublisher(
    { endpoint: receiver.endpoint, key: TOPIC_KEY },
    { maxRetries: 0, timeoutMs: options.timeoutMs ?? 2_000 },
  );
  return {
    deps: {
      jobs,
      raw: stores.raw,
      publisher,
      leaseSeconds: options.leaseSeconds ?? 300,
      ...(options.limits ? { limits: options.limits } : {}),
    },
    jobs,
    raw: stores.raw,
    receiver,
    stop: () => receiver.stop(),
  };
}

/** A change store on Azurite over a fresh prefix, built the way the app builds it (tables made on first use). */
export function freshChangeStore(azurite: TestAzurite): TableChangeStore {
  const storage = openStorage({
    kind: 'connectionString',
    connectionString: azurite.connectionString,
    prefix: `c${randomUUID().replaceAll('-', '').slice(0, 12)}`,
  });
  return new TableChangeStore({
    changes: storage.table(storage.names.changes),
    rows: storage.table(storage.names.rows),
    tables: storage.table(storage.names.tables),
  });
}

/** A Service Bus message carrying `body` as Dataverse sends it. */
export function queueMessage(body: Buffer, messageId: string = randomUUID(), deliveryCount = 1): InboundMessage {
  return {
    body,
    source: 'queue',
    messageId,
    deliveryCount,
    transport: {
      contentType: 'application/json',
      applicationProperties: { [ORGANIZATION_PROPERTY]: 'contoso.crm.dynamics.com' },
    },
  };
}

/**
 * `count` distinct contexts built from the reference samples (round robin), each with its own OperationId and row id,
 * serialized the way Dataverse does (escaped slashes).
 */
export function distinctContexts(count: number, seed = 'ctx'): Buffer[] {
  const names = contextNames();
  return Array.from({ length: count }, (_, i) => {
    const raw = rawContext(names[i % names.length] as string);
    raw.OperationId = deterministicGuid(`${seed}-op-${i}`);
    return Buffer.from(dataContractJson(raw));
  });
}

/** A GUID-shaped id derived from `text`: the same text always gives the same id. */
export function deterministicGuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Delivers batches the way Service Bus does: an invocation that asks for a retry has its whole batch redelivered
 * (delivery count + 1), until every batch completes or `maxRounds` is reached. Batches of one round run concurrently.
 */
export async function deliverUntilSettled(
  batches: InboundMessage[][],
  deps: IngestDeps,
  maxRounds = 30,
): Promise<{ rounds: number; results: IngestResult[]; unsettled: InboundMessage[][] }> {
  let pending = batches;
  const results: IngestResult[] = [];
  let rounds = 0;
  while (pending.length > 0 && rounds < maxRounds) {
    rounds++;
    const outcomes = await Promise.all(pending.map((batch) => ingest(batch, deps)));
    results.push(...outcomes);
    pending = pending
      .filter((_, i) => outcomes[i]?.retry)
      .map((batch) => batch.map((m) => ({ ...m, deliveryCount: (m.deliveryCount ?? 1) + 1 })));
  }
  return { rounds, results, unsettled: pending };
}

/** A seeded pseudo-random generator (mulberry32), so fault patterns are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles a copy of `items` with `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
