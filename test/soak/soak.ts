import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { AdminInvokeRequest, AdminMessage } from '../../tools/localhost/server.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { type Azurite, startAzurite } from '../helpers/azurite.js';
import { type Fault, type ReceivedCloudEvent, startEventGridReceiver } from '../helpers/eventGridReceiver.js';
import { ORGANIZATION_PROPERTY, seededRandom } from '../helpers/pipeline.js';
import { type CrashingHost, startCrashingHost } from './crashingHost.js';
import {
  type Convergence,
  checkConvergence,
  DATAVERSE_TIMEOUT_SECONDS,
  dataverseFaults,
  type ReconcileRunBody,
  reconcileUntilSucceeded,
} from './reconciliation.js';
import { RowBook } from './rows.js';
import { STORAGE_FAULTS, type StorageFault, type StorageProxy, startStorageProxy } from './storageProxy.js';
import { backoff, EventGridPush, type ReceivedDelivery, type Subscriber, startSubscriber } from './subscriber.js';
import { buildItems, type Delivery, plan, type SoakItem } from './workload.js';

export interface SoakOptions {
  /** Valid contexts to send (each more than once). */
  count: number;
  /** Share of Event Grid publish requests the receiver fails (500, 429, dropped connection) or answers slowly. */
  faultRate: number;
  /** Seeds the workload, the shuffle and the faults, so a run can be repeated. */
  seed: number;
  /** Messages per Service Bus invocation. */
  batchSize: number;
  /** Invocations (Service Bus) and requests (webhook) in flight at once, per path. */
  concurrency: number;
  /** Share of the contexts sent through the webhook; the rest go through Service Bus. */
  webhookShare: number;
  /** Bad inputs mixed in on purpose, cycling through the kinds in `workload.ts`. */
  bad: number;
  /** Deliveries of a Service Bus batch (and posts of a webhook message) before it is dead-lettered (given up). */
  maxDeliveryCount: number;
  /** Share of storage requests (Tables, Blobs) the proxy in front of Azurite fails: 500, 503, timeout, reset. */
  storageFaultRate: number;
  /** Times the local host is killed (SIGKILL) and restarted, at seeded random points of the sending. */
  crashes: number;
  /** Also kill it every this many seconds on average (seeded, 0.5 to 1.5 times it) while sending; 0: not on a clock. */
  crashEverySeconds: number;
  /**
   * Share of the valid contexts lost before they reach the bridge (never sent, as a deleted Service Bus namespace or a
   * rotated key loses them); `reconcileChanges` must repair their rows. With this or `dataverseFaultRate` above 0, the
   * host reads the Dataverse double (`DATAVERSE_URL`), whose rows are the workload's rows.
   */
  dropRate: number;
  /** Share of the Dataverse double's requests answered 429 (`Retry-After`), 503, or held past the client's timeout. */
  dataverseFaultRate: number;
  /** A file to write the local host's output to (every process, crashes marked), to look into a failure. */
  hostLog?: string;
  progress: (line: string) => void;
}

export const DEFAULTS: SoakOptions = {
  count: 10_000,
  faultRate: 0.2,
  seed: 1,
  batchSize: 32,
  concurrency: 8,
  webhookShare: 0.5,
  bad: 12,
  maxDeliveryCount: 10,
  storageFaultRate: 0.05,
  crashes: 5,
  crashEverySeconds: 0,
  dropRate: 0.05,
  dataverseFaultRate: 0.1,
  progress: () => {},
};

/**
 * `BRIDGE_LEASE_SECONDS` when storage faults or crashes are injected. A job a killed process had claimed, or whose
 * creation was carried out but answered with a fault, stays `received` until its lease runs out; the app's 300 s would
 * outlast the re-drives, so the soak shortens it as it shortens every other wait.
 */
export const SOAK_LEASE_SECONDS = 10;
/** How long a storage `timeout` fault holds a request (Azure Storage's server timeout, 30 s, shortened). */
export const STORAGE_TIMEOUT_MS = 2_000;

export interface SoakReport {
  ok: boolean;
  /** Why the run failed (empty when ok). */
  failures: string[];
  options: Omit<SoakOptions, 'progress'>;
  sent: { contexts: number; badInputs: number; deliveries: number; queueBatches: number; webhookPosts: number };
  /** Valid contexts with at least one event accepted by Event Grid. */
  published: number;
  /** Event ids accepted for a context beyond its first (the same context under two event ids): must be 0. */
  duplicatesPublished: number;
  /**
   * The same event id accepted again for a context: the documented window (the process died, or the status write
   * failed, between Event Grid accepting the event and the job being marked published; or a lease ran out meanwhile).
   * Not a failure when storage faults or crashes were injected; with neither, nothing can open the window: must be 0.
   */
  republishes: number;
  /** The contexts republished, by the OperationId the soak gave them. */
  republished: { operationId: string; eventId: string; accepted: number }[];
  /** The contexts published under more than one event id, with those ids. */
  underTwoIds: { operationId: string; eventIds: string[] }[];
  /** Valid contexts never published: must be 0. */
  lost: number;
  /** The OperationIds of the contexts lost. */
  lostContexts: string[];
  /** Rejected jobs, as the app recorded them (GET /api/jobs?status=rejected). */
  rejected: { jobId: string; source: string; code: string; message: string; rawSha256?: string }[];
  /** Bad inputs by the code the README documents for them, against the rejected jobs by code. */
  rejectedByCode: { code: string; expected: number; recorded: number }[];
  /** Invocations and posts re-driven (after a 500, a 503 or no answer), and messages given up after the last. */
  redrives: { queueBatches: number; webhookPosts: number; deadLettered: number; unanswered: number };
  eventGrid: { requests: number; faults: Record<string, number>; violations: string[]; unexpectedEvents: number };
  storage: { requests: number; faults: Record<string, number> };
  crashes: { count: number; downSeconds: number };
  /** Valid contexts dropped before ingest (never sent): not lost, but repaired by reconciliation. */
  dropped: number;
  /** With `dropRate` or `dataverseFaultRate` above 0: reconciliation against the Dataverse double, and its faults. */
  reconciliation?: ReconciliationReport;
  subscriber: SubscriberReport;
  seconds: number;
  throughput: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Lines of the local host's output that say a function crashed or a request failed with 500. */
  hostErrors: string[];
}

/** Reconciliation at the end of the run, and whether every row converged with Dataverse's. */
export interface ReconciliationReport {
  tables: number;
  /** The run that succeeded at the end (`undefined`: none did), and the runs before it that failed. */
  run?: Pick<ReconcileRunBody, 'rowsChecked' | 'gapsFound' | 'gapsRepaired'> & { pass: string };
  failedRuns: number;
  /** A second run once the first's events were projected: must find no gap. */
  secondRun?: Pick<ReconcileRunBody, 'rowsChecked' | 'gapsFound'>;
  /** Rows whose newest change was dropped (and that the bridge had seen, for a Delete): what must be repaired. */
  rowsToRepair: number;
  /** Rows with a reconciliation event Event Grid accepted (over every run, failed ones included). */
  rowsRepaired: number;
  /** Distinct reconciliation events (`bridgeorigin: reconciliation`) Event Grid accepted. */
  events: number;
  /** The same reconciliation event id accepted again (the documented window, as for contexts). */
  republishes: number;
  /** Rows with reconciliation events under more than one event id: must be 0. */
  rowsUnderTwoIds: number;
  /** Rows the soak read back and compared with the double's; those that did not converge must be none. */
  convergence: Convergence;
  /** The double's requests, and the faults injected into them. */
  dataverse: { requests: number; faults: Record<string, number> };
}

/** What the subscriber received, against what Event Grid accepted. */
export interface SubscriberReport {
  /** POSTs received (every one answered 200). */
  received: number;
  /** Distinct (event, subscription) pairs received. */
  delivered: number;
  /** Posts of a pair beyond its first, under the same delivery id: the documented window, like republishes. */
  repeats: number;
  /** Events Event Grid accepted that never reached the subscriber: must be 0. */
  undelivered: number;
  /** Pairs received under two delivery ids, or delivery ids shared by two pairs: must be 0. */
  duplicateDeliveries: number;
  badSignatures: number;
  /** Deliveries of events Event Grid never accepted: must be 0. */
  unexpected: number;
  /** Event Grid's pushes to `deliverSubscriptions`: invocations, re-tries, events given up. */
  pushes: { invocations: number; retries: number; givenUp: number };
}

const TOPIC_KEY = `soak-${randomUUID()}`;
const SUBSCRIPTION_SECRET = `soak-secret-${randomUUID()}`;
const FAULTS: Fault[] = [500, 429, 'drop', { delayMs: 400 }];

/**
 * The soak: the local host (`npm start`'s compiled entry point) on an Azurite of the soak's own, behind a proxy that
 * fails a share of storage requests, publishing to a local Event Grid receiver that fails a share of requests and
 * pushes what it accepts to `deliverSubscriptions`, which calls a local subscriber; every context sent more than once,
 * shuffled, through Service Bus batches (the admin invoke) and the webhook at once; failed or unanswered invocations
 * re-driven the way Service Bus and Dataverse do; the host killed and restarted at random moments. Counts what Event
 * Grid accepted and what the subscriber received per context, independently of the app's own ids.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { progress, ...settings } = options;
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed + 1);
  const storageRandom = seededRandom(options.seed + 2);
  const crashRandom = seededRandom(options.seed + 3);
  const faults: Record<string, number> = {};
  const firstAccepted = new Map<string, number>();
  const accepted = new Map<string, Map<string, number>>();
  /** Reconciliation's events, by row (`table/id`): how many times each event id was accepted. */
  const reconciled = new Map<string, Map<string, number>>();
  let push: EventGridPush | undefined;
  let project: EventGridPush | undefined;
  // With reconciliation or Dataverse faults: the double, whose rows are the workload's rows, on a clock of the soak's.
  const book =
    options.dropRate > 0 || options.dataverseFaultRate > 0 ? new RowBook(seededRandom(options.seed + 6)) : undefined;
  const dataverseClock = { now: new Date() };
  let dataverseFaultRate = 0;
  const dataverseFaultCounts: Record<string, number> = {};
  const dataverse = book ? new DataverseDouble({ now: () => dataverseClock.now }) : undefined;
  if (dataverse) {
    dataverse.faultPolicy = dataverseFaults(
      seededRandom(options.seed + 5),
      () => dataverseFaultRate,
      dataverseFaultCounts,
    );
  }
  const receiver = await startEventGridReceiver({
    key: TOPIC_KEY,
    fault: () => {
      if (faultRandom() >= options.faultRate) return 'ok';
      const fault = FAULTS[Math.floor(faultRandom() * FAULTS.length)] as Fault;
      const name = typeof fault === 'object' ? 'slow' : String(fault);
      faults[name] = (faults[name] ?? 0) + 1;
      return fault;
    },
    onAccepted: (events) => {
      const now = performance.now();
      for (const event of events) {
        if (event.bridgeorigin === 'reconciliation') {
          const row = rowOf(event);
          const ids = reconciled.get(row) ?? new Map<string, number>();
          ids.set(event.id, (ids.get(event.id) ?? 0) + 1);
          reconciled.set(row, ids);
          continue;
        }
        const operationId = operationIdOf(event);
        const ids = accepted.get(operationId) ?? new Map<string, number>();
        ids.set(event.id, (ids.get(event.id) ?? 0) + 1);
        accepted.set(operationId, ids);
        if (!firstAccepted.has(operationId)) firstAccepted.set(operationId, now);
      }
      // Event Grid pushes every accepted event to the subscriptions on the topic.
      push?.push(events);
      project?.push(events);
    },
  });
  // Off while the soak sets up (the subscription) and reads the results back: only the run itself is faulty.
  let storageFaultRate = 0;
  const decide = (): StorageFault =>
    storageRandom() < storageFaultRate
      ? (STORAGE_FAULTS[Math.floor(storageRandom() * STORAGE_FAULTS.length)] as StorageFault)
      : 'ok';
  let azurite: Azurite | undefined;
  const proxies: StorageProxy[] = [];
  let subscriber: Subscriber | undefined;
  let host: CrashingHost | undefined;
  try {
    // Outside the host's process, so storage outlives its crashes.
    azurite = await startAzurite();
    for (const [service, endpoint] of [
      ['table', azurite.tableEndpoint],
      ['blob', azurite.blobEndpoint],
    ] as const) {
      proxies.push(
        await startStorageProxy({ service, target: new URL(endpoint).origin, decide, timeoutMs: STORAGE_TIMEOUT_MS }),
      );
    }
    const [tables, blobs] = proxies as [StorageProxy, StorageProxy];
    const connectionString = azurite.connectionString
      .replace(/TableEndpoint=[^;]+/, `TableEndpoint=${tables.origin}/devstoreaccount1`)
      .replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${blobs.origin}/devstoreaccount1`);
    const faulty = options.storageFaultRate > 0 || options.crashes > 0 || options.crashEverySeconds > 0;
    // Built before the host starts: with the double, its tables are the workload's (BRIDGE_RECONCILE_TABLES).
    const items = buildItems({ ...options, random, ...(book ? { shape: book.shape.bind(book) } : {}) });
    if (book && dataverse) {
      for (const table of book.tableSeeds()) dataverse.seedTable(table);
      await dataverse.start();
    }
    host = await startCrashingHost({
      AzureWebJobsStorage: connectionString,
      EVENTGRID_TOPIC_ENDPOINT: receiver.endpoint,
      EVENTGRID_TOPIC_KEY: TOPIC_KEY,
      ...(faulty ? { BRIDGE_LEASE_SECONDS: String(SOAK_LEASE_SECONDS) } : {}),
      // Every Dataverse read of the app (reconciliation, and any other made when DATAVERSE_URL is set) goes to the
      // double, under its faults. The timer is set to once a year: the soak runs reconciliation itself.
      ...(book && dataverse
        ? {
            DATAVERSE_URL: dataverse.url,
            DATAVERSE_TIMEOUT_SECONDS: String(DATAVERSE_TIMEOUT_SECONDS),
            BRIDGE_RECONCILE_TABLES: book.tables.join(','),
            BRIDGE_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
            // The double holds each row's final state, not its state at each change, so a check of a held
            // synchronous Create whose row the workload deletes later would rightly find it gone and record the job
            // rolledBack: the judge would count it lost. The hold is tested on its own (test/pipeline/verify…,
            // test/localhost/hold…); here synchronous contexts are published at once, as before.
            BRIDGE_VERIFY_SYNC: 'false',
          }
        : {}),
    });
    subscriber = await startSubscriber(SUBSCRIPTION_SECRET);
    const subscriptionId = await subscribe(host, subscriber.callbackUrl);
    push = new EventGridPush(host.request, options.concurrency);
    if (book && dataverse) {
      // The change log and row snapshots are what reconciliation compares with Dataverse: Event Grid pushes every
      // event to projectChanges too. A first run before any change saves each table's delta link (a full pass over
      // no rows); then Dataverse makes every change, and a share of the posts are lost on their way.
      project = new EventGridPush(host.request, options.concurrency, 30, 'projectChanges');
      const first = await reconcileUntilSucceeded(host, 1);
      if (!first.run) throw new Error(`The first reconciliation run failed: ${first.lastError}`);
      book.apply(dataverse, dataverseClock);
      const dropRandom = seededRandom(options.seed + 4);
      for (const item of items) if (item.operationId && dropRandom() < options.dropRate) item.dropped = true;
    }
    const deliveries = plan(
      items.filter((item) => !item.dropped),
      random,
    );
    const queue = deliveries.filter((d) => d.item.path === 'queue');
    const webhook = deliveries.filter((d) => d.item.path === 'webhook');
    const batches = Array.from({ length: Math.ceil(queue.length / options.batchSize) }, (_, b) =>
      queue.slice(b * options.batchSize, (b + 1) * options.batchSize),
    );
    const contexts = items.filter((item) => item.operationId !== undefined).length;
    progress(
      `soak: ${contexts.toLocaleString('en-US')} contexts + ${items.length - contexts} bad inputs as ${deliveries.length.toLocaleString('en-US')} deliveries ` +
        `(${batches.length} Service Bus batches, ${webhook.length} webhook posts); faulty: ${Math.round(options.faultRate * 100)}% of Event Grid requests, ` +
        `${Math.round(options.storageFaultRate * 100)}% of storage requests, ${options.crashes} crash(es)` +
        `${options.crashEverySeconds > 0 ? ` + one every ~${options.crashEverySeconds} s` : ''}; seed ${options.seed}`,
    );

    // Crashes at seeded points of the sending (after the n-th delivery went out), and on a seeded clock.
    const crashPoints = Array.from({ length: options.crashes }, () =>
      Math.floor(deliveries.length * (0.05 + 0.9 * crashRandom())),
    ).sort((a, b) => a - b);
    const crashing: Promise<void>[] = [];
    const crash = (why: string) => {
      progress(`  SIGKILL the local host (${why}); restarting it on the same storage`);
      crashing.push(host?.crash() ?? Promise.resolve());
    };
    const driver = new Driver(host, options, (sent) => {
      while (crashPoints.length > 0 && sent >= (crashPoints[0] as number)) {
        crashPoints.shift();
        crash(`after ${sent.toLocaleString('en-US')} deliveries`);
      }
    });
    let sending = true;
    let clock: NodeJS.Timeout | undefined;
    const tick = () => {
      clock = setTimeout(
        () => {
          if (!sending) return;
          crash(`every ~${options.crashEverySeconds} s`);
          tick();
        },
        options.crashEverySeconds * 1000 * (0.5 + crashRandom()),
      );
    };
    if (options.crashEverySeconds > 0) tick();

    storageFaultRate = options.storageFaultRate;
    dataverseFaultRate = options.dataverseFaultRate;
    const started = performance.now();
    const ticker = setInterval(
      () =>
        progress(
          `  ${driver.sent.toLocaleString('en-US')}/${deliveries.length.toLocaleString('en-US')} delivered · ` +
            `${firstAccepted.size.toLocaleString('en-US')}/${contexts.toLocaleString('en-US')} published · ` +
            `${receiver.requests.length.toLocaleString('en-US')} Event Grid requests · ` +
            `${subscriber?.deliveries.length.toLocaleString('en-US')} subscriber posts · ` +
            `${driver.redrives.queueBatches + driver.redrives.webhookPosts} re-drives · ${host?.crashes} crash(es)`,
        ),
      2_000,
    );
    try {
      await Promise.all([driver.sendBatches(batches), driver.sendWebhooks(webhook)]);
      sending = false;
      clearTimeout(clock);
      await Promise.all(crashing);
      await push.drain();
      await project?.drain();
    } finally {
      sending = false;
      clearTimeout(clock);
      clearInterval(ticker);
    }
    const seconds = (performance.now() - started) / 1000;
    // Reconciliation under the same faults (Event Grid, storage, Dataverse), until a run succeeds; its events are
    // projected and delivered; a second run must find nothing left to repair.
    let reconciliation: Observed['reconciliation'];
    if (book && dataverse && project) {
      progress('  reconciliation: reconcileChanges through the admin endpoint');
      const end = await reconcileUntilSucceeded(host);
      await Promise.all([push.drain(), project.drain()]);
      const second = end.run ? await reconcileUntilSucceeded(host) : undefined;
      await Promise.all([push.drain(), project.drain()]);
      dataverseFaultRate = 0;
      storageFaultRate = 0;
      progress(`  reconciliation: ${JSON.stringify(end.run ?? end.lastError)}; comparing every row with Dataverse's`);
      reconciliation = {
        tables: book.tables.length,
        rowsToRepair: book.rowsToRepair(
          new Set(items.filter((item) => item.dropped).map((item) => item.operationId as string)),
        ).length,
        ...(end.run
          ? {
              run: {
                rowsChecked: end.run.rowsChecked,
                gapsFound: end.run.gapsFound,
                gapsRepaired: end.run.gapsRepaired,
                pass: [...new Set(end.run.tables.map((t) => t.pass))].join(', '),
              },
            }
          : {}),
        failedRuns: end.failedRuns + (second?.failedRuns ?? 0),
        ...(second?.run ? { secondRun: { rowsChecked: second.run.rowsChecked, gapsFound: second.run.gapsFound } } : {}),
        reconciled,
        convergence: await checkConvergence(host, book, dataverse, options.concurrency),
        dataverse: { requests: dataverse.count(), faults: dataverseFaultCounts },
      };
    }
    storageFaultRate = 0;
    const rejected = await rejectedJobs(host);
    if (options.hostLog) await writeFile(options.hostLog, host.output());
    return judge({
      options: settings,
      items,
      deliveries: deliveries.length,
      queueBatches: batches.length,
      webhookPosts: webhook.length,
      firstSent: driver.firstSent,
      problems: [...driver.problems, ...push.problems, ...(project?.problems ?? [])],
      redrives: driver.redrives,
      eventGrid: { requests: receiver.requests.length, faults, violations: receiver.violations },
      storage: {
        requests: proxies.reduce((sum, proxy) => sum + proxy.stats.requests, 0),
        faults: sumFaults(proxies.map((proxy) => proxy.stats.faults)),
      },
      crashes: { count: host.crashes, downSeconds: host.downSeconds },
      firstAccepted,
      accepted,
      subscriber: { subscriptionId, deliveries: subscriber.deliveries, pushes: { ...push.stats } },
      rejected,
      seconds,
      hostOutput: host.output(),
      ...(reconciliation ? { reconciliation } : {}),
    });
  } finally {
    await host?.stop();
    await subscriber?.stop();
    for (const proxy of proxies) await proxy.stop();
    await azurite?.stop();
    await receiver.stop();
    await dataverse?.stop();
  }
}

/** Subscribes the local receiver to every event through the connector's webhook trigger; returns the subscription id. */
async function subscribe(host: CrashingHost, callbackUrl: string): Promise<string> {
  const response = await host.request('/api/subscriptions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ callbackUrl, secret: SUBSCRIPTION_SECRET }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`POST /api/subscriptions answered ${response.status}: ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}

function sumFaults(all: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const faults of all) for (const [name, count] of Object.entries(faults)) sum[name] = (sum[name] ?? 0) + count;
  return sum;
}

/**
 * Sends the deliveries and re-drives those not acknowledged, like Service Bus (whole batch, delivery count + 1) and
 * Dataverse (the same post again). A request that gets no answer (the process was killed, or is restarting) is not
 * acknowledged either.
 */
class Driver {
  sent = 0;
  /** When the first copy of each item went out (performance.now()). */
  readonly firstSent = new Map<SoakItem, number>();
  readonly redrives = { queueBatches: 0, webhookPosts: 0, deadLettered: 0, unanswered: 0 };
  readonly problems: string[] = [];

  constructor(
    private readonly host: CrashingHost,
    private readonly options: SoakOptions,
    private readonly onSent: (sent: number) => void = () => {},
  ) {}

  async sendBatches(batches: Delivery[][]): Promise<void> {
    const limit = pLimit(this.options.concurrency);
    await Promise.all(batches.map((batch) => limit(() => this.sendBatch(batch))));
  }

  async sendWebhooks(deliveries: Delivery[]): Promise<void> {
    const limit = pLimit(this.options.concurrency);
    await Promise.all(deliveries.map((delivery) => limit(() => this.sendWebhook(delivery))));
  }

  /** One Service Bus batch: every message gets its own message id; a failed invocation redelivers the whole batch. */
  private async sendBatch(batch: Delivery[]): Promise<void> {
    const messageIds = batch.map(() => randomUUID());
    this.markSent(batch);
    for (let deliveryCount = 1; deliveryCount <= this.options.maxDeliveryCount; deliveryCount++) {
      const messages: AdminMessage[] = batch.map(({ item }, i) => ({
        input: item.body.toString('utf8'),
        contentType: item.contentType,
        messageId: messageIds[i] as string,
        deliveryCount,
        applicationProperties: { [ORGANIZATION_PROPERTY]: 'soak.crm.dynamics.com' },
      }));
      const { status, text } = await this.send('/admin/functions/dataverseQueue', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages } satisfies AdminInvokeRequest),
      });
      if (status === 202) return;
      if (status !== 500 && status !== 0) {
        this.problems.push(`a Service Bus invocation answered ${status}: ${text.slice(0, 200)}`);
        return;
      }
      // The function failed or the process died: Service Bus abandons the batch (or its lock runs out) and redelivers
      // it, after a short wait here.
      this.redrives.queueBatches++;
      await backoff(deliveryCount);
    }
    this.redrives.deadLettered += batch.length;
  }

  /** One webhook post: 200 and 400 are final; 503 (with Retry-After) or no answer is retried, as Dataverse does. */
  private async sendWebhook({ item }: Delivery): Promise<void> {
    this.markSent([{ item, copy: 0 }]);
    for (let attempt = 1; attempt <= this.options.maxDeliveryCount; attempt++) {
      const { status, text } = await this.send('/api/dataverse/webhook', {
        method: 'POST',
        headers: { 'content-type': item.contentType },
        body: item.body,
      });
      if (status === 200) return;
      if (status === 400 && item.expectedCode !== undefined) return;
      if (status !== 503 && status !== 0) {
        this.problems.push(`a webhook post (${item.kind}) answered ${status}: ${text.slice(0, 200)}`);
        return;
      }
      this.redrives.webhookPosts++;
      await backoff(attempt);
    }
    this.redrives.deadLettered++;
  }

  /** The status and body of a request, or status 0 when no whole answer came (a connection error). */
  private async send(path: string, init: RequestInit): Promise<{ status: number; text: string }> {
    try {
      const response = await this.host.request(path, { ...init, signal: AbortSignal.timeout(120_000) });
      return { status: response.status, text: await response.text() };
    } catch {
      this.redrives.unanswered++;
      return { status: 0, text: '' };
    }
  }

  private markSent(deliveries: Delivery[]): void {
    const now = performance.now();
    for (const { item } of deliveries) if (!this.firstSent.has(item)) this.firstSent.set(item, now);
    this.sent += deliveries.length;
    this.onSent(this.sent);
  }
}

/** The row a reconciliation event is about, as `table/id`. */
function rowOf(event: ReceivedCloudEvent): string {
  const data = event.data as { primaryEntityName?: unknown; primaryEntityId?: unknown } | undefined;
  return `${String(data?.primaryEntityName)}/${String(data?.primaryEntityId).toLowerCase()}`;
}

function operationIdOf(event: ReceivedCloudEvent): string {
  const data = event.data as { operationId?: unknown } | undefined;
  return typeof data?.operationId === 'string' ? data.operationId : `(event ${event.id} without data.operationId)`;
}

/** Every rejected job, following `nextLink` as the connector does. */
async function rejectedJobs(host: CrashingHost): Promise<SoakReport['rejected']> {
  const rejected: SoakReport['rejected'] = [];
  let path: string | undefined = '/api/jobs?status=rejected&top=100';
  while (path) {
    const response = await host.request(path);
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as {
      value: { id: string; source: string; error?: { code: string; message: string }; raw?: { sha256: string } }[];
      nextLink?: string;
    };
    for (const job of page.value) {
      rejected.push({
        jobId: job.id,
        source: job.source,
        code: job.error?.code ?? '(none)',
        message: job.error?.message ?? '',
        ...(job.raw ? { rawSha256: job.raw.sha256 } : {}),
      });
    }
    const next = page.nextLink ? new URL(page.nextLink) : undefined;
    path = next ? next.pathname + next.search : undefined;
  }
  return rejected;
}

/** What a run observed, for {@link judge}. */
export interface Observed {
  options: Omit<SoakOptions, 'progress'>;
  items: SoakItem[];
  deliveries: number;
  queueBatches: number;
  webhookPosts: number;
  /** When the first copy of each item went out. */
  firstSent: ReadonlyMap<SoakItem, number>;
  /** Answers the drivers did not expect (e.g. a 500 from the webhook). */
  problems: string[];
  redrives: SoakReport['redrives'];
  eventGrid: { requests: number; faults: Record<string, number>; violations: string[] };
  storage: SoakReport['storage'];
  crashes: SoakReport['crashes'];
  /** By `data.operationId` of the accepted events: when the first was accepted. */
  firstAccepted: ReadonlyMap<string, number>;
  /** By `data.operationId` of the accepted events: how many times each event id was accepted. */
  accepted: ReadonlyMap<string, ReadonlyMap<string, number>>;
  subscriber: {
    subscriptionId: string;
    deliveries: readonly ReceivedDelivery[];
    pushes: SubscriberReport['pushes'];
  };
  rejected: SoakReport['rejected'];
  seconds: number;
  hostOutput: string;
  /** With the Dataverse double: reconciliation's runs, its events by row (`table/id`), and the rows compared. */
  reconciliation?: Omit<ReconciliationReport, 'events' | 'republishes' | 'rowsUnderTwoIds' | 'rowsRepaired'> & {
    reconciled: ReadonlyMap<string, ReadonlyMap<string, number>>;
  };
}

/** Counts what was published and delivered per context against what was sent, and says whether the run passed. */
export function judge(run: Observed): SoakReport {
  const contexts = run.items.filter((item) => item.operationId !== undefined && !item.dropped);
  const dropped = run.items.filter((item) => item.dropped).length;
  const bad = run.items.filter((item) => item.expectedCode !== undefined);
  const sentIds = new Set(contexts.map((item) => item.operationId as string));
  let duplicates = 0;
  let unexpected = 0;
  const republished: SoakReport['republished'] = [];
  const underTwoIds: SoakReport['underTwoIds'] = [];
  // The event ids of sent contexts that Event Grid accepted: each must reach the subscriber.
  const acceptedEventIds = new Set<string>();
  for (const [operationId, ids] of run.accepted) {
    const total = [...ids.values()].reduce((a, b) => a + b, 0);
    if (!sentIds.has(operationId)) {
      unexpected += total;
      continue;
    }
    duplicates += ids.size - 1;
    if (ids.size > 1) underTwoIds.push({ operationId, eventIds: [...ids.keys()] });
    for (const [eventId, count] of ids) {
      acceptedEventIds.add(eventId);
      if (count > 1) republished.push({ operationId, eventId, accepted: count });
    }
  }
  const republishes = republished.reduce((sum, row) => sum + row.accepted - 1, 0);
  // Reconciliation's events are published like any other and must reach the subscriber too.
  let reconciliation: ReconciliationReport | undefined;
  if (run.reconciliation) {
    const { reconciled, ...rest } = run.reconciliation;
    let events = 0;
    let again = 0;
    let rowsUnderTwoIds = 0;
    for (const ids of reconciled.values()) {
      events += ids.size;
      if (ids.size > 1) rowsUnderTwoIds++;
      for (const [eventId, count] of ids) {
        acceptedEventIds.add(eventId);
        again += count - 1;
      }
    }
    reconciliation = { ...rest, rowsRepaired: reconciled.size, events, republishes: again, rowsUnderTwoIds };
  }
  const latencies: number[] = [];
  const lostContexts: string[] = [];
  for (const item of contexts) {
    const accepted = run.firstAccepted.get(item.operationId as string);
    const sent = run.firstSent.get(item);
    if (accepted === undefined || sent === undefined) lostContexts.push(item.operationId as string);
    else latencies.push(accepted - sent);
  }
  const lost = lostContexts.length;
  latencies.sort((a, b) => a - b);
  const subscriber = judgeDeliveries(run.subscriber, acceptedEventIds);

  const codes = new Set([...bad.map((item) => item.expectedCode as string), ...run.rejected.map((job) => job.code)]);
  const rejectedByCode = [...codes].sort().map((code) => ({
    code,
    expected: bad.filter((item) => item.expectedCode === code).length,
    recorded: run.rejected.filter((job) => job.code === code).length,
  }));
  // Nothing lost: each bad input's exact bytes are kept with its rejected job, for a replay.
  const kept = new Set(run.rejected.map((job) => job.rawSha256));
  const notKept = bad.filter((item) => !kept.has(createHash('sha256').update(item.body).digest('hex')));
  const hostErrors = run.hostOutput
    .split('\n')
    .filter((line) => / 500 \d+ ms$|unhandled error/.test(line) && !line.includes('/admin/functions/'));
  // Only a crash or a storage write that failed can open the window between publishing and marking.
  const windowCanOpen = run.options.storageFaultRate > 0 || run.crashes.count > 0;

  const failures: string[] = [];
  if (lost > 0) failures.push(`${lost} context(s) lost: never published`);
  if (duplicates > 0) failures.push(`${duplicates} duplicate event(s) published: a context under a second event id`);
  if (republishes > 0 && !windowCanOpen)
    failures.push(`${republishes} republish(es) of an event id with no crash or storage fault to explain them`);
  if (unexpected > 0) failures.push(`${unexpected} event(s) published that were never sent`);
  if (subscriber.undelivered > 0)
    failures.push(`${subscriber.undelivered} published event(s) never delivered to the subscriber`);
  if (subscriber.duplicateDeliveries > 0)
    failures.push(`${subscriber.duplicateDeliveries} duplicate delivery(ies): an event under two delivery ids`);
  if (subscriber.repeats > 0 && !windowCanOpen)
    failures.push(`${subscriber.repeats} repeated delivery(ies) with no crash or storage fault to explain them`);
  if (subscriber.badSignatures > 0) failures.push(`${subscriber.badSignatures} delivery(ies) with a wrong signature`);
  if (reconciliation) {
    const { run: end, secondRun, convergence } = reconciliation;
    if (!end) failures.push(`no reconciliation run succeeded (${reconciliation.failedRuns} failed)`);
    if (secondRun && secondRun.gapsFound > 0)
      failures.push(`the second reconciliation run found ${secondRun.gapsFound} gap(s) the first had repaired`);
    if (end && !secondRun) failures.push('the second reconciliation run did not succeed');
    if (reconciliation.rowsUnderTwoIds > 0)
      failures.push(`${reconciliation.rowsUnderTwoIds} row(s) repaired by reconciliation under two event ids`);
    if (reconciliation.republishes > 0 && !windowCanOpen)
      failures.push(
        `${reconciliation.republishes} republish(es) of a reconciliation event with no crash or storage fault`,
      );
    if (convergence.notConverged.length > 0)
      failures.push(`${convergence.notConverged.length} row(s) not converged with Dataverse's`);
  }
  if (subscriber.unexpected > 0)
    failures.push(`${subscriber.unexpected} delivery(ies) of events Event Grid never accepted`);
  for (const row of rejectedByCode) {
    if (row.expected !== row.recorded) {
      failures.push(`${row.recorded} job(s) rejected with ${row.code}, expected ${row.expected}`);
    }
  }
  for (const item of notKept) failures.push(`the bytes of a bad input (${item.kind}) were not kept`);
  if (run.eventGrid.violations.length > 0)
    failures.push(`${run.eventGrid.violations.length} Event Grid wire violation(s)`);
  failures.push(...run.problems);
  if (hostErrors.length > 0) failures.push(`${hostErrors.length} failure(s) in the host output`);

  const publishedAt = [...run.firstAccepted.values()];
  return {
    ok: failures.length === 0,
    failures,
    options: run.options,
    sent: {
      contexts: contexts.length,
      badInputs: bad.length,
      deliveries: run.deliveries,
      queueBatches: run.queueBatches,
      webhookPosts: run.webhookPosts,
    },
    published: contexts.length - lost,
    duplicatesPublished: duplicates,
    republishes,
    republished,
    underTwoIds,
    lost,
    lostContexts,
    rejected: run.rejected,
    rejectedByCode,
    redrives: run.redrives,
    eventGrid: { ...run.eventGrid, unexpectedEvents: unexpected },
    storage: run.storage,
    crashes: run.crashes,
    dropped,
    ...(reconciliation ? { reconciliation } : {}),
    subscriber,
    seconds: run.seconds,
    throughput: publishedAt.length / run.seconds,
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    hostErrors,
  };
}

/**
 * The subscriber's side: every accepted event delivered to the subscription, each (event, subscription) under one
 * delivery id that no other pair has; posts of a pair beyond its first are repeats (the documented window: the
 * process died, or the delivery log write failed, between the callback's 2xx and the write).
 */
function judgeDeliveries(observed: Observed['subscriber'], acceptedEventIds: ReadonlySet<string>): SubscriberReport {
  const byPair = new Map<string, { ids: Set<string>; posts: number }>();
  const pairsById = new Map<string, Set<string>>();
  let badSignatures = 0;
  let unexpected = 0;
  for (const delivery of observed.deliveries) {
    if (!delivery.signatureOk) badSignatures++;
    if (!acceptedEventIds.has(delivery.eventId)) unexpected++;
    const pair = `${delivery.eventId} ${delivery.subscriptionId}`;
    const seen = byPair.get(pair) ?? { ids: new Set<string>(), posts: 0 };
    seen.ids.add(delivery.deliveryId);
    seen.posts++;
    byPair.set(pair, seen);
    const pairs = pairsById.get(delivery.deliveryId) ?? new Set<string>();
    pairs.add(pair);
    pairsById.set(delivery.deliveryId, pairs);
  }
  let repeats = 0;
  let duplicateDeliveries = 0;
  for (const { ids, posts } of byPair.values()) {
    duplicateDeliveries += ids.size - 1;
    repeats += posts - ids.size;
  }
  for (const pairs of pairsById.values()) duplicateDeliveries += pairs.size - 1;
  let undelivered = 0;
  for (const eventId of acceptedEventIds) if (!byPair.has(`${eventId} ${observed.subscriptionId}`)) undelivered++;
  return {
    received: observed.deliveries.length,
    delivered: byPair.size,
    repeats,
    undelivered,
    duplicateDeliveries,
    badSignatures,
    unexpected,
    pushes: observed.pushes,
  };
}

/** The nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** The report as the lines the terminal shows. */
export function formatReport(report: SoakReport): string[] {
  const n = (value: number) => value.toLocaleString('en-US');
  const listed = (faults: Record<string, number>) =>
    Object.entries(faults)
      .map(([k, v]) => `${k} ×${n(v)}`)
      .join(', ') || 'none';
  const s = report.subscriber;
  const lines = [
    '',
    `sent                 ${n(report.sent.contexts)} contexts + ${n(report.sent.badInputs)} bad inputs, as ${n(report.sent.deliveries)} deliveries (${n(report.sent.queueBatches)} Service Bus batches, ${n(report.sent.webhookPosts)} webhook posts)`,
    `published            ${n(report.published)}`,
    `duplicates published ${n(report.duplicatesPublished)} (a context under a second event id)`,
    ...report.underTwoIds
      .slice(0, 5)
      .map((row) => `  e.g. context ${row.operationId}: events ${row.eventIds.join(', ')}`),
    `republished          ${n(report.republishes)} (the same event id again: the window between Event Grid accepting and the job being marked)`,
    ...report.republished
      .slice(0, 5)
      .map((row) => `  e.g. context ${row.operationId}: event ${row.eventId} accepted ×${row.accepted}`),
    `lost                 ${n(report.lost)}`,
    ...report.lostContexts.slice(0, 5).map((operationId) => `  e.g. context ${operationId}`),
    `delivered            ${n(s.delivered)} of the published events to the subscriber (${n(s.received)} posts); undelivered ${n(s.undelivered)}, duplicates ${n(s.duplicateDeliveries)} (an event under a second delivery id), repeats ${n(s.repeats)} (the same delivery id again)`,
    `rejected             ${n(report.rejected.length)} (bad inputs sent on purpose: ${n(report.sent.badInputs)})`,
    ...report.rejectedByCode.map(
      (row) => `  ${row.code.padEnd(26)} ${row.recorded} recorded, ${row.expected} expected`,
    ),
    ...report.rejected
      .slice(0, 6)
      .map((job) => `  e.g. ${job.source} ${job.jobId}: ${job.code}: ${truncate(job.message, 90)}`),
    `re-driven            ${n(report.redrives.queueBatches)} Service Bus batches, ${n(report.redrives.webhookPosts)} webhook posts (${n(report.redrives.unanswered)} requests unanswered); ${n(report.redrives.deadLettered)} given up`,
    `Event Grid           ${n(report.eventGrid.requests)} requests, faults injected: ${listed(report.eventGrid.faults)}; pushed to deliverSubscriptions ${n(s.pushes.invocations)} times (${n(s.pushes.retries)} retries, ${n(s.pushes.givenUp)} given up)`,
    `storage              ${n(report.storage.requests)} requests, faults injected: ${listed(report.storage.faults)}`,
    `crashes              ${n(report.crashes.count)} (SIGKILL), ${report.crashes.downSeconds.toFixed(1)} s down in all`,
    ...reconciliationLines(report, n, listed),
    `throughput           ${report.throughput.toFixed(0)} contexts/s over ${report.seconds.toFixed(1)} s`,
    `latency send→publish p50 ${report.latencyMs.p50.toFixed(0)} ms, p99 ${report.latencyMs.p99.toFixed(0)} ms, max ${report.latencyMs.max.toFixed(0)} ms`,
    '',
    report.ok
      ? `OK: nothing lost, nothing duplicated${report.reconciliation ? ', every row converged' : ''}.`
      : `FAILED:\n${report.failures.map((f) => `  - ${f}`).join('\n')}`,
  ];
  return lines;
}

function reconciliationLines(
  report: SoakReport,
  n: (value: number) => string,
  listed: (faults: Record<string, number>) => string,
): string[] {
  const r = report.reconciliation;
  if (!r) return [];
  const c = r.convergence;
  return [
    `dropped              ${n(report.dropped)} contexts before ingest (never sent)`,
    `Dataverse            ${n(r.dataverse.requests)} requests to the double, faults injected: ${listed(r.dataverse.faults)}`,
    r.run
      ? `reconciliation       ${n(r.failedRuns)} failed run(s), then a ${r.run.pass} pass over ${n(r.tables)} tables: ${n(r.run.rowsChecked)} rows checked, ${n(r.run.gapsFound)} gaps found, ${n(r.run.gapsRepaired)} repaired; second run ${r.secondRun ? `${n(r.secondRun.rowsChecked)} rows checked, ${n(r.secondRun.gapsFound)} gaps` : 'failed'}`
      : `reconciliation       no run succeeded (${n(r.failedRuns)} failed)`,
    `repaired             ${n(r.rowsRepaired)} rows (${n(r.rowsToRepair)} had their newest change dropped) by ${n(r.events)} reconciliation events over every run; republished ${n(r.republishes)}, rows under two event ids ${n(r.rowsUnderTwoIds)}`,
    `converged            ${n(c.converged)} of ${n(c.rowsChecked)} rows with Dataverse's; not converged ${n(c.notConverged.length)}`,
    ...c.notConverged.slice(0, 5).map((row) => `  e.g. ${row.row}: ${truncate(row.differences.join('; '), 150)}`),
  ];
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
