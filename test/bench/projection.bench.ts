import { randomUUID } from 'node:crypto';
import { RestError, TableClient } from '@azure/data-tables';
import pLimit from 'p-limit';
import { projectChange } from '../../shared/changes/projectChanges.js';
import { readContext } from '../../shared/dataverse/index.js';
import { eventIdFor } from '../../shared/events/eventId.js';
import { toCloudEvent } from '../../shared/events/toCloudEvent.js';
import { jobKeyForContext } from '../../shared/pipeline/jobKey.js';
import { openStorage } from '../../shared/store/connect.js';
import { TableChangeStore } from '../../shared/store/tableChangeStore.js';
import { startAzurite } from '../../tools/localhost/azurite.js';
import { seededRandom } from '../helpers/pipeline.js';
import { buildItems } from '../soak/workload.js';
import { startCountingProxy } from './countingProxy.js';
import { type Figure, pairedFigure, type SuiteOptions } from './measure.js';

/** Events per round, and how many the Event Grid trigger runs at once (one event per invocation). */
const EVENTS = 400;
const CONCURRENCY = 16;
/** Rows per round: four events per row, far apart in the stream, so rows get updates but rarely contend. */
const ROWS = EVENTS / 4;

/**
 * `projectChanges` on Azurite, as Event Grid drives it: one event per call, {@link CONCURRENCY} at once, events from
 * the reference samples over {@link ROWS} rows per round. Baseline, in the same round: the bare Table work the
 * projection cannot do without per event (append the change, read the row, then insert or conditionally replace it)
 * with small entities, at the same concurrency.
 */
export async function projectionBenchmark({ rounds, log }: SuiteOptions): Promise<Figure[]> {
  const azurite = await startAzurite();
  const proxy = await startCountingProxy(new URL(azurite.tableEndpoint));
  try {
    const connectionString = azurite.connectionString.replace(azurite.tableEndpoint, proxy.url);
    const storage = openStorage({ kind: 'connectionString', connectionString, prefix: `proj${Date.now() % 1e6}` });
    const store = new TableChangeStore({
      changes: storage.table(storage.names.changes),
      rows: storage.table(storage.names.rows),
      tables: storage.table(storage.names.tables),
    });
    const floor = await projectionFloor(connectionString);
    const project = (events: unknown[]) => runAll(events, (event) => projectChange(event, { store }));
    // Warm up: creates the tables, notes the tables the samples use, JIT-compiles both paths; not counted.
    await project(events(0));
    await floor(ROWS);

    const samples: { ms: number; trips: number; floorMs: number }[] = [];
    for (let round = 1; round <= rounds; round++) {
      const batch = events(round);
      const before = proxy.count();
      const start = performance.now();
      await project(batch);
      const ms = performance.now() - start;
      const trips = proxy.count() - before;
      samples.push({ ms, trips, floorMs: await floor(EVENTS) });
      log(`  projection round ${round}/${rounds}`);
    }
    const suite = 'projectChanges';
    return [
      pairedFigure(
        { suite, metric: 'events/s', unit: 'ev/s', baselineLabel: 'bare append+read+write', direction: 'rate' },
        samples.map((s) => ({ value: (EVENTS * 1000) / s.ms, baseline: (EVENTS * 1000) / s.floorMs })),
      ),
      pairedFigure(
        {
          suite,
          metric: 'storage round trips per event',
          unit: 'trips',
          baselineLabel: 'append + read + write',
          direction: 'cost',
          goal: 1.05,
        },
        samples.map((s) => ({ value: s.trips / EVENTS, baseline: 3 })),
      ),
    ];
  } finally {
    await proxy.stop();
    await azurite.stop();
  }
}

/** {@link EVENTS} CloudEvents as the pipeline publishes them, in the wire shape the trigger receives. */
function events(seed: number): unknown[] {
  const items = buildItems({ count: EVENTS, bad: 0, webhookShare: 0, random: seededRandom(seed), seed });
  return items.map(({ body }) => {
    const context = readContext(body);
    return JSON.parse(JSON.stringify(toCloudEvent(context, eventIdFor(jobKeyForContext(context, body)), new Date())));
  });
}

/** Runs `work` over `items`, {@link CONCURRENCY} at a time. */
async function runAll<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(items.map((item) => limit(() => work(item))));
}

/**
 * The bare work per event: insert the change and read the row together, then insert the row (first event for it) or
 * replace it on its ETag. Returns a function timing that work for `count` events over `count / 4` rows.
 */
async function projectionFloor(connectionString: string): Promise<(count: number) => Promise<number>> {
  const options = { allowInsecureConnection: true };
  const suffix = Date.now() % 1e6;
  const changes = TableClient.fromConnectionString(connectionString, `floorchanges${suffix}`, options);
  const rows = TableClient.fromConnectionString(connectionString, `floorrows${suffix}`, options);
  await Promise.all([changes.createTable(), rows.createTable()]);
  return async (count) => {
    const partition = randomUUID();
    const start = performance.now();
    await runAll(
      Array.from({ length: count }, (_, i) => i),
      async (i) => {
        const rowKey = String(i % (count / 4));
        const [, first] = await Promise.all([
          changes.createEntity({ partitionKey: partition, rowKey: String(i), value: 'change' }),
          readRow(rows, partition, rowKey),
        ]);
        // As the projection does: another writer may win the row first (409, 412); then read again and retry.
        for (let row = first; ; row = await readRow(rows, partition, rowKey)) {
          const entity = { partitionKey: partition, rowKey, value: `state ${i}` };
          try {
            if (row) await rows.updateEntity(entity, 'Replace', { etag: row.etag });
            else await rows.createEntity(entity);
            return;
          } catch (error) {
            if (!(error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412))) throw error;
          }
        }
      },
    );
    return performance.now() - start;
  };
}

function readRow(rows: TableClient, partition: string, rowKey: string): Promise<{ etag: string } | undefined> {
  return rows.getEntity(partition, rowKey).catch((error: unknown) => {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  });
}
