import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import pLimit from 'p-limit';
import { startAzurite } from '../helpers/azurite.js';
import { dataContractJson } from '../helpers/contexts.js';
import { contextNames, rawContext } from '../helpers/fixtures.js';
import { startLocalHost } from '../helpers/localHost.js';
import { deterministicGuid } from '../helpers/pipeline.js';
import { startCountingProxy } from './countingProxy.js';
import { type LatencyRound, latencyFigures } from './latency.js';
import type { Figure, SuiteOptions } from './measure.js';
import { type SignedSubscriber, startSignedSubscriber } from './signedSubscriber.js';

/** Contexts in flight at once, and how many contexts a round sends at each (bounded: a round is a few seconds). */
const IN_FLIGHT = [1, 16] as const;
const CONTEXTS: Record<(typeof IN_FLIGHT)[number], number> = { 1: 30, 16: 64 };
/** Longest wait for one context's webhook answer or delivery before the run fails (a bound, not a measurement). */
const TIMEOUT_MS = 30_000;

/**
 * The Table writes the pipeline makes per context on the webhook path, as a counting proxy sees them (the report
 * gives the count measured): ingest's claim and mark, the delivery record, the change and the row snapshot. (Noting
 * the table is a sixth, at most once a minute per table.) The baseline makes these.
 */
const WRITES_PER_CONTEXT = 5;

/**
 * End-to-end latency: a context posted to `POST /api/dataverse/webhook` on the local host (`npm start`'s compiled
 * entry point, local fan-out) until its signed delivery reaches a webhook-trigger subscriber on 127.0.0.1, per
 * context, at 1 and at 16 contexts in flight; each context is new (its own OperationId and row). Baseline, in the
 * same round and at the same concurrency: the bare Table writes the pipeline makes per context, one after the other,
 * with the SDK against the same Azurite (started as the local host embeds it) through the same counting proxy.
 */
export async function latencyBenchmark({ rounds, log }: SuiteOptions): Promise<Figure[]> {
  const azurite = await startAzurite();
  const table = await startCountingProxy(new URL(azurite.tableEndpoint));
  const blob = await startCountingProxy(new URL(azurite.blobEndpoint));
  const subscriber = await startSignedSubscriber();
  const connectionString = azurite.connectionString
    .replace(azurite.tableEndpoint, table.url)
    .replace(azurite.blobEndpoint, blob.url);
  const host = await startLocalHost({ AzureWebJobsStorage: connectionString }).catch(async (error: unknown) => {
    await Promise.all([subscriber.stop(), table.stop(), blob.stop()]);
    await azurite.stop();
    throw error;
  });
  try {
    // The host prints localhost; the benchmark talks to 127.0.0.1 only.
    const base = host.url.replace('//localhost:', '//127.0.0.1:');
    subscriber.setSecret(await subscribe(base, host.key, subscriber.url));
    const app = { base, key: host.key, subscriber };
    const writes = await bareWrites(connectionString);

    // Warm up (creates the tables, loads the handlers, JIT-compiles both paths); not counted.
    await sendContexts(app, newChanges(16, 'latency-warm-1'), 1);
    await sendContexts(app, newChanges(32, 'latency-warm-16'), 16);
    await writes(32, 16);
    log('  latency: warmed up');

    const measured: Record<number, LatencyRound[]> = { 1: [], 16: [] };
    const storageWrites = () => table.writes() + blob.writes();
    let sent = 0;
    let oursWrites = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const inFlight of IN_FLIGHT) {
        const count = CONTEXTS[inFlight];
        const contexts = newChanges(count, `latency-${round}-${inFlight}`);
        const before = storageWrites();
        // The webhook answers once the local fan-out is done, so every write of these contexts is counted here.
        const ours = await sendContexts(app, contexts, inFlight);
        oursWrites += storageWrites() - before;
        sent += count;
        measured[inFlight]?.push({ ours, baseline: await writes(count, inFlight) });
      }
      log(`  latency round ${round}/${rounds}`);
    }
    if (subscriber.refused() > 0) throw new Error(`${subscriber.refused()} deliveries had a bad signature`);
    const details = {
      storageWritesPerContext: Math.round((oursWrites / sent) * 100) / 100,
      baselineWritesPerContext: WRITES_PER_CONTEXT,
    };
    const spec = { suite: 'latency', baselineLabel: `bare ${WRITES_PER_CONTEXT} writes`, details };
    return IN_FLIGHT.flatMap((inFlight) => latencyFigures(inFlight, measured[inFlight] ?? [], spec));
  } finally {
    await host.stop();
    await Promise.all([subscriber.stop(), table.stop(), blob.stop()]);
    await azurite.stop();
  }
}

/** Creates a webhook-trigger subscription for every event, as the connector's trigger does; returns its secret. */
async function subscribe(base: string, key: string, callbackUrl: string): Promise<string> {
  const response = await fetch(`${base}/api/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-functions-key': key },
    body: JSON.stringify({ callbackUrl }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const answer = (await response.json()) as { secret?: string };
  if (response.status !== 201 || typeof answer.secret !== 'string') {
    throw new Error(`POST /api/subscriptions answered ${response.status}: ${JSON.stringify(answer)}`);
  }
  return answer.secret;
}

interface NewChange {
  body: Buffer;
  operationId: string;
}

/**
 * `count` contexts from the reference samples (round robin), each a new operation on a new row: its own OperationId
 * and PrimaryEntityId, so every one is published, delivered and projected as a change (not a duplicate, and not a
 * row snapshot that already holds it). Serialized as Dataverse does (escaped slashes).
 */
function newChanges(count: number, seed: string): NewChange[] {
  const names = contextNames();
  return Array.from({ length: count }, (_, i) => {
    const raw = rawContext(names[i % names.length] as string);
    const operationId = deterministicGuid(`${seed}-op-${i}`);
    raw.OperationId = operationId;
    raw.PrimaryEntityId = deterministicGuid(`${seed}-row-${i}`);
    return { body: Buffer.from(dataContractJson(raw)), operationId };
  });
}

/**
 * Posts the contexts to the webhook, `inFlight` at a time, and resolves with each one's latency in ms: from just
 * before its POST to the arrival of its signed delivery at the subscriber.
 */
async function sendContexts(
  app: { base: string; key: string; subscriber: SignedSubscriber },
  contexts: readonly NewChange[],
  inFlight: number,
): Promise<number[]> {
  const limit = pLimit(inFlight);
  return Promise.all(
    contexts.map(({ body, operationId }) =>
      limit(async () => {
        const arrival = app.subscriber.arrival(operationId, TIMEOUT_MS);
        const start = performance.now();
        const response = await fetch(`${app.base}/api/dataverse/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-functions-key': app.key },
          body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        const answer = (await response.json()) as { status?: string };
        if (response.status !== 200 || answer.status !== 'published') {
          throw new Error(`The webhook answered ${response.status}: ${JSON.stringify(answer)}`);
        }
        return (await arrival) - start;
      }),
    ),
  );
}

/**
 * The bare writes of the webhook path, per context and in its order: insert the job, upsert the delivery record,
 * upsert the change, insert the row snapshot, conditionally replace the job; entities of about the sizes ours
 * writes. Returns a function that runs them for `count` contexts, `inFlight` at once, and resolves
 * with each context's time in ms.
 */
async function bareWrites(connectionString: string): Promise<(count: number, inFlight: number) => Promise<number[]>> {
  const prefix = `bare${Date.now() % 1e6}`;
  const open = async (name: string) => {
    const client = TableClient.fromConnectionString(connectionString, `${prefix}${name}`, {
      allowInsecureConnection: true,
    });
    await client.createTable();
    return client;
  };
  const [jobs, deliveries, changes, rows] = (await Promise.all(
    ['jobs', 'deliveries', 'changes', 'rows'].map(open),
  )) as [TableClient, TableClient, TableClient, TableClient];
  const job = 'j'.repeat(400);
  const data = 'd'.repeat(2_500);
  const writeOne = async (): Promise<number> => {
    const id = randomUUID();
    const start = performance.now();
    const { etag } = await jobs.createEntity({ partitionKey: id, rowKey: '', status: 'received', job });
    await deliveries.upsertEntity({ partitionKey: id, rowKey: 'subscription', at: new Date() }, 'Replace');
    await changes.upsertEntity({ partitionKey: 'account', rowKey: `${Date.now()}_${id}`, data }, 'Replace');
    await rows.createEntity({ partitionKey: 'account', rowKey: id, data });
    await jobs.updateEntity({ partitionKey: id, rowKey: '', status: 'published', job }, 'Replace', { etag });
    return performance.now() - start;
  };
  return (count, inFlight) => {
    const limit = pLimit(inFlight);
    return Promise.all(Array.from({ length: count }, () => limit(writeOne)));
  };
}
