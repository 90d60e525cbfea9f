import { type QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { invocationContext } from './localFanOut.js';
import type { Registration } from './registrations.js';
import { resolveSchedule } from './timers.js';

/**
 * The host.json `extensions.queues` settings the local host honours, with the Functions host's defaults (Microsoft
 * Learn, "Azure Queue storage trigger and bindings for Azure Functions", host.json settings:
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#hostjson-settings).
 */
export interface QueueSettings {
  /** The longest wait between two polls of an empty queue (`maxPollingInterval`, default 1 minute). */
  maxPollingIntervalMs: number;
  /** How long a message whose invocation failed stays invisible before its next try (`visibilityTimeout`, default 0). */
  visibilityTimeoutMs: number;
  /** Messages fetched at once and run in parallel (`batchSize`, default 16, at most 32). */
  batchSize: number;
  /** Another batch is fetched once at most this many are still running (`newBatchThreshold`, default batchSize / 2). */
  newBatchThreshold: number;
  /** Tries before a message goes to `<queue>-poison` (`maxDequeueCount`, default 5). */
  maxDequeueCount: number;
  /** `base64` (the default of the Storage extension 5.x) or `none`. */
  messageEncoding: 'base64' | 'none';
}

/**
 * How long a received message stays invisible while its function runs. The host dequeues with a 10-minute visibility
 * timeout (and renews it for long invocations, which the local host does not need: its handlers are short), so a
 * message whose process was killed mid-invocation comes back after 10 minutes, as in Azure.
 */
const RUNNING_VISIBILITY_SECONDS = 600;
/** Learn: "When a message is found, the runtime waits 100 milliseconds and then checks for another message." */
const AFTER_MESSAGE_MS = 100;
/** Learn: "When no message is found, it waits about two seconds before trying again." */
const FIRST_IDLE_MS = 2_000;

/** "hh:mm:ss[.fff]" (a .NET TimeSpan, as host.json writes it) → milliseconds; `undefined` when it is not one. */
export function timeSpanMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(value.trim());
  if (!match) return undefined;
  const [, days, hours, minutes, secs, fraction] = match;
  const whole = ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(secs);
  return whole * 1000 + Math.round(Number(`0.${fraction ?? '0'}`) * 1000);
}

/** The queue settings of a parsed host.json, defaults filled in as the Functions host fills them. */
export function queueSettings(hostJson: unknown): QueueSettings {
  const queues =
    ((hostJson as { extensions?: { queues?: Record<string, unknown> } } | undefined)?.extensions?.queues as
      | Record<string, unknown>
      | undefined) ?? {};
  const number = (value: unknown, fallback: number, min: number, max: number) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : fallback;
  const batchSize = number(queues.batchSize, 16, 1, 32);
  return {
    maxPollingIntervalMs: Math.max(100, timeSpanMs(queues.maxPollingInterval) ?? 60_000),
    visibilityTimeoutMs: timeSpanMs(queues.visibilityTimeout) ?? 0,
    batchSize,
    newBatchThreshold: number(queues.newBatchThreshold, Math.floor(batchSize / 2), 0, 1000),
    maxDequeueCount: number(queues.maxDequeueCount, 5, 1, 1000),
    messageEncoding: queues.messageEncoding === 'none' ? 'none' : 'base64',
  };
}

/** One served Queue trigger, as the start-up output lists it. */
export interface ServedQueue {
  name: string;
  queue: string;
}

/**
 * Serves the app's Storage Queue-triggered functions against the storage their `connection` setting names (the
 * embedded Azurite under `npm start`), the way the Functions host's queue listener does ("Azure Queue storage trigger
 * for Azure Functions", https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger):
 *
 * - polling: 100 ms after a message was found; about 2 s after the first empty poll, then doubling (with a little
 *   randomness) up to `maxPollingInterval`;
 * - up to `batchSize` messages at once, run in parallel, another batch once `newBatchThreshold` or fewer still run;
 * - a message is invisible while its function runs; success deletes it; a failure makes it visible again after
 *   `visibilityTimeout`; the `maxDequeueCount`-th failure (or a message dequeued more often than that) moves it to
 *   `<queue>-poison` ("Poison messages"), created when missing;
 * - the text is base64-decoded unless `messageEncoding` is `none` (a message that is not base64 fails its
 *   invocation); JSON is passed parsed, anything else as a string, with the trigger metadata the host gives: `id`,
 *   `dequeueCount`, `insertionTime`, `expirationTime`, `nextVisibleTime`, `popReceipt` and `queueTrigger` (the text);
 * - a queue that does not exist yet is polled as an empty one.
 *
 * Connections: a connection string in the setting the trigger names (`connection`, default `AzureWebJobsStorage`);
 * identity-based connections (`<name>__queueServiceUri`) are not served locally and are named at start-up.
 *
 * @example
 * const queues = startQueueTriggers(registrations, console.log, queueSettings(hostJson));
 * await queues.stop();
 */
export function startQueueTriggers(
  registrations: readonly Registration[],
  log: (line: string) => void,
  settings: QueueSettings,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { served: ServedQueue[]; stop(): Promise<void> } {
  const listeners: QueueListener[] = [];
  for (const registration of registrations.filter((r) => r.trigger.type === 'queueTrigger')) {
    const resolved = resolveSchedule(String(registration.trigger.queueName ?? ''), env);
    if ('missing' in resolved) {
      log(`  ${registration.name}: not served: the setting ${resolved.missing} its queue name names is not set.`);
      continue;
    }
    const connection = String(registration.trigger.connection ?? 'AzureWebJobsStorage');
    const connectionString = env[connection]?.trim();
    if (!connectionString) {
      log(
        `  ${registration.name}: not served: its connection ${connection} holds no connection string (identity-based queue connections are served in Azure only).`,
      );
      continue;
    }
    let service: QueueServiceClient;
    try {
      service = QueueServiceClient.fromConnectionString(connectionString);
    } catch (error) {
      // e.g. explicit endpoints without a QueueEndpoint: the rest of the app still runs.
      log(`  ${registration.name}: not served: ${connection} names no queue service (${(error as Error).message}).`);
      continue;
    }
    listeners.push(
      new QueueListener(
        registration,
        service.getQueueClient(resolved.schedule),
        service.getQueueClient(`${resolved.schedule}-poison`),
        settings,
        log,
      ),
    );
  }
  for (const listener of listeners) listener.start();
  return {
    served: listeners.map((l) => ({ name: l.registration.name, queue: l.queue.name })),
    async stop() {
      await Promise.all(listeners.map((listener) => listener.stop()));
    },
  };
}

/** Polls one queue for one function. */
class QueueListener {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private idleMs = 0;
  private readonly running = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private failingSince: number | undefined;

  constructor(
    readonly registration: Registration,
    readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly settings: QueueSettings,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.running);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    // Another batch only once few enough of the last ones still run.
    while (this.running.size > this.settings.newBatchThreshold && !this.stopped) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    let found = 0;
    try {
      const { receivedMessageItems } = await this.queue.receiveMessages({
        numberOfMessages: this.settings.batchSize,
        visibilityTimeout: RUNNING_VISIBILITY_SECONDS,
      });
      found = receivedMessageItems.length;
      this.failingSince = undefined;
      for (const message of receivedMessageItems) {
        const run = this.process(message).finally(() => {
          this.running.delete(run);
          this.wake?.();
        });
        this.running.add(run);
      }
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 404 && this.failingSince === undefined) {
        // Once per outage, not per poll.
        this.failingSince = Date.now();
        this.log(`  ${this.registration.name}: polling queue ${this.queue.name} failed: ${(error as Error).message}`);
      }
    }
    if (found > 0) this.idleMs = 0;
    else {
      const next = this.idleMs === 0 ? FIRST_IDLE_MS : this.idleMs * 2;
      this.idleMs = Math.min(this.settings.maxPollingIntervalMs, next);
    }
    const jitter = found > 0 ? 0 : Math.floor(Math.random() * Math.min(250, this.idleMs / 10));
    this.schedule(found > 0 ? AFTER_MESSAGE_MS : Math.min(this.settings.maxPollingIntervalMs, this.idleMs + jitter));
  }

  private async process(message: ReceivedMessage): Promise<void> {
    const { name } = this.registration;
    if (message.dequeueCount > this.settings.maxDequeueCount) {
      // Dequeued too often without a failure to count (its process died mid-invocation): poison it unrun.
      return this.toPoison(message);
    }
    try {
      const text = decode(message.messageText, this.settings.messageEncoding);
      await this.registration.handler(
        triggerInput(text),
        invocationContext(this.registration, this.log, triggerMetadata(message, text)),
      );
    } catch (error) {
      this.log(
        `  [${name}] error: message ${message.messageId} (dequeue count ${message.dequeueCount}) failed: ${(error as Error).message}`,
      );
      try {
        if (message.dequeueCount >= this.settings.maxDequeueCount) await this.toPoison(message);
        else {
          await this.queue.updateMessage(
            message.messageId,
            message.popReceipt,
            undefined,
            Math.round(this.settings.visibilityTimeoutMs / 1000),
          );
        }
      } catch (releaseError) {
        // It becomes visible again once its running visibility timeout ends.
        this.log(`  ${name}: message ${message.messageId} not released: ${(releaseError as Error).message}`);
      }
      return;
    }
    try {
      await this.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      this.log(`  ${name}: message ${message.messageId} ran but was not deleted: ${(error as Error).message}`);
    }
  }

  /** Copies the message, as it was sent, to `<queue>-poison` (made when missing), then deletes it. */
  private async toPoison(message: ReceivedMessage): Promise<void> {
    await this.poison.createIfNotExists();
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, message.popReceipt);
    this.log(
      `  ${this.registration.name}: message ${message.messageId} moved to ${this.poison.name} after ${message.dequeueCount} tries.`,
    );
  }
}

type ReceivedMessage = Awaited<ReturnType<QueueClient['receiveMessages']>>['receivedMessageItems'][number];

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The message text as the function sees it: base64-decoded unless the encoding is `none`. */
function decode(text: string, encoding: QueueSettings['messageEncoding']): string {
  if (encoding === 'none') return text;
  if (!BASE64.test(text)) {
    throw new Error(
      'the message is not base64, and host.json extensions.queues.messageEncoding is base64 (the default)',
    );
  }
  return Buffer.from(text, 'base64').toString('utf8');
}

/** JSON is handed over parsed, as the Node.js worker does; any other text as a string. */
function triggerInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function triggerMetadata(message: ReceivedMessage, text: string): Record<string, unknown> {
  return {
    queueTrigger: text,
    id: message.messageId,
    dequeueCount: message.dequeueCount,
    insertionTime: message.insertedOn.toISOString(),
    expirationTime: message.expiresOn.toISOString(),
    nextVisibleTime: message.nextVisibleOn.toISOString(),
    popReceipt: message.popReceipt,
  };
}
