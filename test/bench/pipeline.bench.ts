import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import pLimit from 'p-limit';
import { readContext } from '../../shared/dataverse/index.js';
import { EventGridPublisher } from '../../shared/events/eventGridPublisher.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { minimumRequests } from '../../shared/events/pack.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import { type IngestDeps, ingest } from '../../shared/pipeline/ingest.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { createStores } from '../../shared/store/connect.js';
import { startAzurite } from '../../tools/localhost/azurite.js';
import { startEventGridReceiver } from '../helpers/eventGridReceiver.js';
import { distinctContexts, queueMessage, TOPIC_KEY } from '../helpers/pipeline.js';
import { startCountingProxy } from './countingProxy.js';
import { type Figure, pairedFigure, type Sample, type SuiteOptions } from './measure.js';

const BATCH = 100;
const BATCHES = 10;
const MESSAGES = BATCH * BATCHES;
/** The concurrency of the baseline's storage work (the pipeline's own per-batch concurrency is its business). */
const FLOOR_CONCURRENCY = 16;

/** What one round of the real pipeline did. */
interface PipelineRound {
  ms: number;
  publishRequests: number;
  minimumRequests: number;
  storageRoundTrips: number;
}

/**
 * End to end through the real pipeline: each round sends 10 batches of 100 fresh contexts through `ingest` against
 * Azurite (Tables, Blobs) and a local Event Grid receiver, through the real SDK clients; then, as the round's
 * baseline, the bare storage work any exactly-once design needs per message (one conditional insert and one
 * conditional update on Table storage) for as many messages.
 */
export async function pipelineBenchmark({ rounds, log }: SuiteOptions): Promise<Figure[]> {
  const azurite = await startAzurite();
  const receiver = await startEventGridReceiver({ key: TOPIC_KEY });
  const table = await startCountingProxy(new URL(azurite.tableEndpoint));
  const blob = await startCountingProxy(new URL(azurite.blobEndpoint));
  try {
    const connectionString = azurite.connectionString
      .replace(azurite.tableEndpoint, table.url)
      .replace(azurite.blobEndpoint, blob.url);
    const stores = createStores({ kind: 'connectionString', connectionString, prefix: `bench${Date.now() % 1e6}` });
    const deps: IngestDeps = {
      ...stores,
      publisher: new EventGridPublisher({ endpoint: receiver.endpoint, key: TOPIC_KEY }),
      leaseSeconds: 300,
    };
    const counters = {
      storage: () => table.count() + blob.count(),
      publishRequests: () => receiver.requests.length,
    };
    const floor = await storageFloor(connectionString);
    // Warm up (creates the tables, JIT-compiles both paths); not counted.
    await ingestBatches(distinctContexts(BATCH, 'warm'), deps);
    await floor(BATCH);

    const samples: PipelineRound[] = [];
    const floorMs: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      samples.push(await pipelineRound(distinctContexts(MESSAGES, `bench-${round}`), deps, counters));
      floorMs.push(await floor(MESSAGES));
      log(`  pipeline round ${round}/${rounds}`);
    }
    return pipelineFigures(samples, floorMs);
  } finally {
    await Promise.all([table.stop(), blob.stop(), receiver.stop()]);
    await azurite.stop();
  }
}

function pipelineFigures(samples: readonly PipelineRound[], floorMs: readonly number[]): Figure[] {
  const suite = 'pipeline';
  const perRound = (pick: (round: PipelineRound, index: number) => Sample) => samples.map(pick);
  return [
    pairedFigure(
      {
        suite,
        metric: 'messages/s (batches of 100)',
        unit: 'msg/s',
        baselineLabel: 'bare insert+update',
        direction: 'rate',
      },
      perRound((r, i) => ({ value: (MESSAGES * 1000) / r.ms, baseline: (MESSAGES * 1000) / (floorMs[i] as number) })),
    ),
    pairedFigure(
      {
        suite,
        metric: 'publish requests per 1,000 events',
        unit: 'req',
        baselineLabel: 'minimum under 1 MB',
        direction: 'cost',
        goal: 1.5,
      },
      perRound((r) => ({
        value: (r.publishRequests * 1000) / MESSAGES,
        baseline: (r.minimumRequests * 1000) / MESSAGES,
      })),
    ),
    pairedFigure(
      {
        suite,
        metric: 'storage round trips per message',
        unit: 'trips',
        baselineLabel: 'claim + mark',
        direction: 'cost',
        goal: 1,
      },
      perRound((r) => ({ value: r.storageRoundTrips / MESSAGES, baseline: 2 })),
    ),
  ];
}

/** Sends `bodies` through the pipeline in batches of {@link BATCH}, one batch after the other. */
async function ingestBatches(bodies: readonly Buffer[], deps: IngestDeps): Promise<void> {
  for (let start = 0; start < bodies.length; start += BATCH) {
    const result = await ingest(
      bodies.slice(start, start + BATCH).map((body) => queueMessage(body)),
      deps,
    );
    if (result.retry) throw new Error('benchmark batch asked for a retry');
  }
}

/** One timed round of the pipeline, with the requests and round trips it made and the fewest requests possible. */
async function pipelineRound(
  bodies: readonly Buffer[],
  deps: IngestDeps,
  counters: { storage: () => number; publishRequests: () => number },
): Promise<PipelineRound> {
  const before = { storage: counters.storage(), publishRequests: counters.publishRequests() };
  const start = performance.now();
  await ingestBatches(bodies, deps);
  const ms = performance.now() - start;
  return {
    ms,
    publishRequests: counters.publishRequests() - before.publishRequests,
    minimumRequests: fewestRequests(bodies),
    storageRoundTrips: counters.storage() - before.storage,
  };
}

/** The fewest Event Grid requests the batches' events fit in under the 1 MB limit, batch by batch. */
function fewestRequests(bodies: readonly Buffer[]): number {
  let minimum = 0;
  for (let start = 0; start < bodies.length; start += BATCH) {
    const events = bodies.slice(start, start + BATCH).map((body) => {
      const context = readContext(body);
      return toCloudEvent(context, eventIdFor(jobKeyForContext(context, body)), new Date());
    });
    minimum += minimumRequests(events);
  }
  return minimum;
}

/**
 * The bare storage work of an exactly-once design: insert-if-absent, then a conditional update, per message, in
 * batches of {@link BATCH} at {@link FLOOR_CONCURRENCY}. Returns a function timing that work for `messages` messages.
 */
async function storageFloor(connectionString: string): Promise<(messages: number) => Promise<number>> {
  const client = TableClient.fromConnectionString(connectionString, `floor${Date.now() % 1e6}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  const limit = pLimit(FLOOR_CONCURRENCY);
  return async (messages) => {
    const start = performance.now();
    for (let b = 0; b < messages / BATCH; b++) {
      await Promise.all(
        Array.from({ length: BATCH }, () =>
          limit(async () => {
            const entity = { partitionKey: randomUUID(), rowKey: '', status: 'received' };
            const { etag } = await client.createEntity(entity);
            await client.updateEntity({ ...entity, status: 'published' }, 'Replace', { etag });
          }),
        ),
      );
    }
    return performance.now() - start;
  };
}
