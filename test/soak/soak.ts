import { createHash, randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { AdminInvokeRequest, AdminMessage } from '../../tools/localhost/server.js';
import { type Fault, type ReceivedCloudEvent, startEventGridReceiver } from '../helpers/eventGridReceiver.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';
import { ORGANIZATION_PROPERTY, seededRandom } from '../helpers/pipeline.js';
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
  progress: () => {},
};

export interface SoakReport {
  ok: boolean;
  /** Why the run failed (empty when ok). */
  failures: string[];
  options: Omit<SoakOptions, 'progress'>;
  sent: { contexts: number; badInputs: number; deliveries: number; queueBatches: number; webhookPosts: number };
  /** Valid contexts with at least one event accepted by Event Grid. */
  published: number;
  /** Events accepted for a context beyond its first: must be 0. */
  duplicatesPublished: number;
  /** Valid contexts never published: must be 0. */
  lost: number;
  /** Rejected jobs, as the app recorded them (GET /api/jobs?status=rejected). */
  rejected: { jobId: string; source: string; code: string; message: string; rawSha256?: string }[];
  /** Bad inputs by the code the README documents for them, against the rejected jobs by code. */
  rejectedByCode: { code: string; expected: number; recorded: number }[];
  redrives: { queueBatches: number; webhookPosts: number; deadLettered: number };
  eventGrid: { requests: number; faults: Record<string, number>; violations: string[]; unexpectedEvents: number };
  seconds: number;
  throughput: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Lines of the local host's output that say a function crashed or a request failed with 500. */
  hostErrors: string[];
}

const TOPIC_KEY = `soak-${randomUUID()}`;
const FAULTS: Fault[] = [500, 429, 'drop', { delayMs: 400 }];

/**
 * The soak: the local host (`npm start`'s compiled entry point, on its embedded Azurite) publishing to a local Event
 * Grid receiver that fails a share of requests; every context sent more than once, shuffled, through Service Bus
 * batches (the admin invoke) and the webhook at once; failed invocations re-driven the way Service Bus and Dataverse
 * do. Counts what Event Grid accepted per context, independently of the app's own ids.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { progress, ...settings } = options;
  const random = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed + 1);
  const faults: Record<string, number> = {};
  const firstAccepted = new Map<string, number>();
  const acceptedCount = new Map<string, number>();
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
      for (const operationId of events.map(operationIdOf)) {
        acceptedCount.set(operationId, (acceptedCount.get(operationId) ?? 0) + 1);
        if (!firstAccepted.has(operationId)) firstAccepted.set(operationId, now);
      }
    },
  });
  let host: RunningHost | undefined;
  try {
    host = await startLocalHost({ EVENTGRID_TOPIC_ENDPOINT: receiver.endpoint, EVENTGRID_TOPIC_KEY: TOPIC_KEY });
    const items = buildItems({ ...options, random });
    const deliveries = plan(items, random);
    const queue = deliveries.filter((d) => d.item.path === 'queue');
    const webhook = deliveries.filter((d) => d.item.path === 'webhook');
    const batches = Array.from({ length: Math.ceil(queue.length / options.batchSize) }, (_, b) =>
      queue.slice(b * options.batchSize, (b + 1) * options.batchSize),
    );
    const contexts = items.filter((item) => item.operationId !== undefined).length;
    progress(
      `soak: ${contexts.toLocaleString('en-US')} contexts + ${items.length - contexts} bad inputs as ${deliveries.length.toLocaleString('en-US')} deliveries ` +
        `(${batches.length} Service Bus batches, ${webhook.length} webhook posts), ${Math.round(options.faultRate * 100)}% of Event Grid requests faulty, seed ${options.seed}`,
    );

    const driver = new Driver(host, options);
    const started = performance.now();
    const ticker = setInterval(
      () =>
        progress(
          `  ${driver.sent.toLocaleString('en-US')}/${deliveries.length.toLocaleString('en-US')} delivered · ` +
            `${firstAccepted.size.toLocaleString('en-US')}/${contexts.toLocaleString('en-US')} published · ` +
            `${receiver.requests.length.toLocaleString('en-US')} Event Grid requests · ${driver.redrives.queueBatches + driver.redrives.webhookPosts} re-drives`,
        ),
      2_000,
    );
    try {
      await Promise.all([driver.sendBatches(batches), driver.sendWebhooks(webhook)]);
    } finally {
      clearInterval(ticker);
    }
    const seconds = (performance.now() - started) / 1000;
    const rejected = await rejectedJobs(host);
    return judge({
      options: settings,
      items,
      deliveries: deliveries.length,
      queueBatches: batches.length,
      webhookPosts: webhook.length,
      firstSent: driver.firstSent,
      problems: driver.problems,
      redrives: driver.redrives,
      eventGrid: { requests: receiver.requests.length, faults, violations: receiver.violations },
      firstAccepted,
      acceptedCount,
      rejected,
      seconds,
      hostOutput: host.output(),
    });
  } finally {
    await host?.stop();
    await receiver.stop();
  }
}

/** Sends the deliveries and re-drives failed ones, like Service Bus (whole batch, delivery count + 1) and Dataverse. */
class Driver {
  sent = 0;
  /** When the first copy of each item went out (performance.now()). */
  readonly firstSent = new Map<SoakItem, number>();
  readonly redrives = { queueBatches: 0, webhookPosts: 0, deadLettered: 0 };
  readonly problems: string[] = [];

  constructor(
    private readonly host: RunningHost,
    private readonly options: SoakOptions,
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
      const response = await this.host.request('/admin/functions/dataverseQueue', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages } satisfies AdminInvokeRequest),
      });
      const text = await response.text();
      if (response.status === 202) return;
      if (response.status !== 500) {
        this.problems.push(`a Service Bus invocation answered ${response.status}: ${text.slice(0, 200)}`);
        return;
      }
      // The function failed: Service Bus abandons the batch and redelivers it, after a short wait here.
      this.redrives.queueBatches++;
      await backoff(deliveryCount);
    }
    this.redrives.deadLettered += batch.length;
  }

  /** One webhook post: 200 and 400 are final; 503 (with Retry-After) is retried, as Dataverse retries an async step. */
  private async sendWebhook({ item }: Delivery): Promise<void> {
    this.markSent([{ item, copy: 0 }]);
    for (let attempt = 1; attempt <= this.options.maxDeliveryCount; attempt++) {
      const response = await this.host.request('/api/dataverse/webhook', {
        method: 'POST',
        headers: { 'content-type': item.contentType },
        body: item.body,
      });
      const text = await response.text();
      if (response.status === 200) return;
      if (response.status === 400 && item.expectedCode !== undefined) return;
      if (response.status !== 503) {
        this.problems.push(`a webhook post (${item.kind}) answered ${response.status}: ${text.slice(0, 200)}`);
        return;
      }
      this.redrives.webhookPosts++;
      await backoff(attempt);
    }
    this.redrives.deadLettered++;
  }

  private markSent(deliveries: Delivery[]): void {
    const now = performance.now();
    for (const { item } of deliveries) if (!this.firstSent.has(item)) this.firstSent.set(item, now);
    this.sent += deliveries.length;
  }
}

/** 100 ms, 200 ms, 400 ms, … capped at 2 s: quicker than Service Bus or Dataverse would, to keep the run short. */
function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** (attempt - 1))));
}

function operationIdOf(event: ReceivedCloudEvent): string {
  const data = event.data as { operationId?: unknown } | undefined;
  return typeof data?.operationId === 'string' ? data.operationId : `(event ${event.id} without data.operationId)`;
}

/** Every rejected job, following `nextLink` as the connector does. */
async function rejectedJobs(host: RunningHost): Promise<SoakReport['rejected']> {
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
  /** By `data.operationId` of the accepted events: when the first was accepted, and how many were. */
  firstAccepted: ReadonlyMap<string, number>;
  acceptedCount: ReadonlyMap<string, number>;
  rejected: SoakReport['rejected'];
  seconds: number;
  hostOutput: string;
}

/** Counts what was published per context against what was sent, and says whether the run passed. */
export function judge(run: Observed): SoakReport {
  const contexts = run.items.filter((item) => item.operationId !== undefined);
  const bad = run.items.filter((item) => item.expectedCode !== undefined);
  const sentIds = new Set(contexts.map((item) => item.operationId as string));
  let duplicates = 0;
  let unexpected = 0;
  for (const [operationId, count] of run.acceptedCount) {
    if (sentIds.has(operationId)) duplicates += count - 1;
    else unexpected += count;
  }
  const latencies: number[] = [];
  let lost = 0;
  for (const item of contexts) {
    const accepted = run.firstAccepted.get(item.operationId as string);
    const sent = run.firstSent.get(item);
    if (accepted === undefined || sent === undefined) lost++;
    else latencies.push(accepted - sent);
  }
  latencies.sort((a, b) => a - b);

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

  const failures: string[] = [];
  if (lost > 0) failures.push(`${lost} context(s) lost: never published`);
  if (duplicates > 0) failures.push(`${duplicates} duplicate event(s) published`);
  if (unexpected > 0) failures.push(`${unexpected} event(s) published that were never sent`);
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
    lost,
    rejected: run.rejected,
    rejectedByCode,
    redrives: run.redrives,
    eventGrid: { ...run.eventGrid, unexpectedEvents: unexpected },
    seconds: run.seconds,
    throughput: publishedAt.length / run.seconds,
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    hostErrors,
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
  const lines = [
    '',
    `sent                 ${n(report.sent.contexts)} contexts + ${n(report.sent.badInputs)} bad inputs, as ${n(report.sent.deliveries)} deliveries (${n(report.sent.queueBatches)} Service Bus batches, ${n(report.sent.webhookPosts)} webhook posts)`,
    `published            ${n(report.published)}`,
    `duplicates published ${n(report.duplicatesPublished)}`,
    `lost                 ${n(report.lost)}`,
    `rejected             ${n(report.rejected.length)} (bad inputs sent on purpose: ${n(report.sent.badInputs)})`,
    ...report.rejectedByCode.map(
      (row) => `  ${row.code.padEnd(26)} ${row.recorded} recorded, ${row.expected} expected`,
    ),
    ...report.rejected
      .slice(0, 6)
      .map((job) => `  e.g. ${job.source} ${job.jobId}: ${job.code}: ${truncate(job.message, 90)}`),
    `re-driven            ${n(report.redrives.queueBatches)} Service Bus batches, ${n(report.redrives.webhookPosts)} webhook posts; ${n(report.redrives.deadLettered)} given up`,
    `Event Grid           ${n(report.eventGrid.requests)} requests, faults injected: ${
      Object.entries(report.eventGrid.faults)
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ') || 'none'
    }`,
    `throughput           ${report.throughput.toFixed(0)} contexts/s over ${report.seconds.toFixed(1)} s`,
    `latency send→publish p50 ${report.latencyMs.p50.toFixed(0)} ms, p99 ${report.latencyMs.p99.toFixed(0)} ms, max ${report.latencyMs.max.toFixed(0)} ms`,
    '',
    report.ok
      ? 'OK: nothing lost, nothing duplicated.'
      : `FAILED:\n${report.failures.map((f) => `  - ${f}`).join('\n')}`,
  ];
  return lines;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
