import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import pLimit from 'p-limit';
import { readContext } from '../../shared/dataverse/index.js';
import { EventGridPublisher } from '../../shared/events/eventGridPublisher.js';
import { minimumRequests } from '../../shared/events/pack.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import { type IngestDeps, ingest } from '../../shared/pipeline/ingest.js';
import { eventIdFor, jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { createStores } from '../../shared/store/connect.js';
import { startAzurite } from '../helpers/azurite.js';
import { startEventGridReceiver } from '../helpers/eventGridReceiver.js';
import { distinctContexts, queueMessage, TOPIC_KEY } from '../helpers/pipeline.js';
import { startCountingProxy } from './countingProxy.js';
import type { Figure } from './measure.js';

const BATCH = 100;
const BATCHES = 10;

/**
 * End to end through the real pipeline: batches of 100 contexts against Azurite (Tables, Blobs) and a local Event
 * Grid receiver, through the real SDK clients. Baseline, in the same run: the bare storage work any exactly-once
 * design needs per message (one conditional insert and one conditional update on Table storage, same concurrency).
 */
export async function pipelineBenchmark(log: (line: string) => void): Promise<Figure[]> {
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
    // Warm up (creates the table, JIT-compiles the path), then measure from a clean count.
    await ingest(
      distinctContexts(BATCH, 'warm').map((b) => queueMessage(b)),
      deps,
    );
    const before = { table: table.count(), blob: blob.count(), requests: receiver.requests.length };

    const bodies = distinctContexts(BATCH * BATCHES, 'bench');
    let minimum = 0;
    const start = performance.now();
    for (let b = 0; b < BATCHES; b++) {
      const batch = bodies.slice(b * BATCH, (b + 1) * BATCH);
      const result = await ingest(
        batch.map((body) => queueMessage(body)),
        deps,
      );
      if (result.retry) throw new Error('benchmark batch asked for a retry');
      log(`  pipeline batch ${b + 1}/${BATCHES}`);
    }
    const pipelineMs = performance.now() - start;
    for (let b = 0; b < BATCHES; b++) {
      const events = bodies.slice(b * BATCH, (b + 1) * BATCH).map((body) => {
        const context = readContext(body);
        return toCloudEvent(context, eventIdFor(jobKeyForContext(context, body)), new Date());
      });
      minimum += minimumRequests(events);
    }
    const messages = BATCH * BATCHES;
    const roundTrips = table.count() - before.table + (blob.count() - before.blob);
    const requests = receiver.requests.length - before.requests;

    const floorMs = await storageFloor(connectionString, messages);
    return [
      {
        suite: 'pipeline',
        metric: 'messages/s (batches of 100)',
        value: (messages * 1000) / pipelineMs,
        unit: 'msg/s',
        baseline: { label: 'bare insert+update', value: (messages * 1000) / floorMs },
        ratio: pipelineMs / floorMs,
      },
      {
        suite: 'pipeline',
        metric: 'publish requests per 1,000 events',
        value: (requests * 1000) / messages,
        unit: 'req',
        baseline: { label: 'minimum under 1 MB', value: (minimum * 1000) / messages },
        ratio: requests / minimum,
        goal: 1.5,
      },
      {
        suite: 'pipeline',
        metric: 'storage round trips per message',
        value: roundTrips / messages,
        unit: 'trips',
        baseline: { label: 'claim + mark', value: 2 },
        ratio: roundTrips / messages / 2,
        goal: 1,
      },
    ];
  } finally {
    await Promise.all([table.stop(), blob.stop(), receiver.stop()]);
    await azurite.stop();
  }
}

/** The bare storage work of an exactly-once design: insert-if-absent, then a conditional update, per message. */
async function storageFloor(connectionString: string, messages: number): Promise<number> {
  const client = TableClient.fromConnectionString(connectionString, `floor${Date.now() % 1e6}`, {
    allowInsecureConnection: true,
  });
  await client.createTable();
  const limit = pLimit(16);
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
}
