import type { EventGridPublisherClient, SendCloudEventInput } from '@azure/eventgrid';
import type { TokenCredential } from '@azure/identity';
import type { EventGridSettings } from '../config.js';
import { PublishFailedError } from './errors.js';
import type { BridgeEvent, EventPublisher } from './types.js';

/** Options of {@link EventGridPublisher}. */
export interface EventGridPublisherOptions {
  /** How long one `send`, SDK retries included, may take before it fails. Default 30,000 ms. */
  timeoutMs?: number;
  /** Retries the SDK makes itself (on 5xx, 408, 429 with Retry-After, lost connections). Default 3. */
  maxRetries?: number;
  /** Used when the settings have no key; default `DefaultAzureCredential` (the app's managed identity in Azure). */
  credential?: TokenCredential;
}

type Client = EventGridPublisherClient<'CloudEvent'>;

/** Longest server-supplied text we quote in an error: enough for Event Grid's messages, not a whole HTML page. */
const MAX_REASON_LENGTH = 300;

/**
 * Publishes to an Event Grid custom topic (CloudEvents 1.0 schema) with `@azure/eventgrid`: one {@link send} is one
 * HTTP request. Authenticates with the topic key when the settings have one, else with a token credential.
 *
 * The SDK (and `@azure/identity`, only when there is no key) is imported on the first send, not when this module
 * loads, because module loading is on the Functions cold-start path.
 *
 * @example
 * const publisher = new EventGridPublisher(config.eventGrid, { timeoutMs: 10_000 });
 * for (const batch of packEvents(events).batches) await publisher.send(batch);
 */
export class EventGridPublisher implements EventPublisher {
  readonly #settings: EventGridSettings;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #credential: TokenCredential | undefined;
  #client: Promise<Client> | undefined;

  constructor(settings: EventGridSettings, options: EventGridPublisherOptions = {}) {
    this.#settings = settings;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#credential = options.credential;
  }

  /**
   * Sends `events` in one request. Throws {@link PublishFailedError} when Event Grid did not answer 200 within the
   * timeout (after the SDK's retries); the events may then have been accepted or not. Sends nothing for no events.
   *
   * Each event's `data` must be a JSON object (or null): the SDK serializes `data` as a dictionary, so it would
   * turn an array into `{"0": …}` and refuse a string. Our events carry the normalized context, always an object.
   */
  async send(events: readonly BridgeEvent<unknown>[]): Promise<void> {
    if (events.length === 0) return;
    const input = events.map(toSdkEvent);
    const client = await this.#getClient();
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      await client.send(input, { abortSignal: signal });
    } catch (error) {
      throw this.#publishFailed(error, signal.aborted);
    }
  }

  #getClient(): Promise<Client> {
    this.#client ??= this.#createClient().catch((error: unknown) => {
      // A failed import must not stick: the next send tries again.
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #createClient(): Promise<Client> {
    const { AzureKeyCredential, EventGridPublisherClient } = await import('@azure/eventgrid');
    const { endpoint, key } = this.#settings;
    const credential = key
      ? new AzureKeyCredential(key)
      : (this.#credential ?? new (await import('@azure/identity')).DefaultAzureCredential());
    return new EventGridPublisherClient(endpoint, 'CloudEvent', credential, {
      retryOptions: { maxRetries: this.#maxRetries },
      // The SDK refuses plain http outright. Configuration accepts it only for a local stand-in on loopback
      // (loadConfig), so allow exactly that; a token credential still refuses http on its own.
      allowInsecureConnection: isLoopbackHttp(endpoint),
    });
  }

  /**
   * Our error for whatever the SDK threw. The SDK's `RestError` keeps the request, `aeg-sas-key` header included,
   * so it is not kept as `cause`; the reason quotes only the status, the error code and the service's message.
   */
  #publishFailed(error: unknown, timedOut: boolean): PublishFailedError {
    if (timedOut) return new PublishFailedError(`no answer within ${this.#timeoutMs} ms`);
    const { statusCode, code, message } = (error ?? {}) as { statusCode?: unknown; code?: unknown; message?: unknown };
    const status = typeof statusCode === 'number' ? statusCode : undefined;
    let reason = typeof message === 'string' ? serviceMessage(message) : '';
    if (status === undefined && typeof code === 'string') reason = `${code}${reason ? ` (${reason})` : ''}`;
    // Without its closing period, so a hint can follow as its own sentence.
    reason = this.#redact(reason || 'unknown error').replace(/\.$/, '');
    const hint = status === undefined ? '' : statusHint(status, this.#settings.key !== undefined);
    return new PublishFailedError(`${reason}${hint}`, status === undefined ? {} : { statusCode: status });
  }

  /** The service should never echo the key, but the reason is server-supplied text, so make sure. */
  #redact(text: string): string {
    const key = this.#settings.key;
    return key ? text.split(key).join('[redacted]') : text;
  }
}

/** The SDK's input for one event; the SDK itself adds `specversion: "1.0"`. */
function toSdkEvent(event: BridgeEvent<unknown>): SendCloudEventInput<unknown> {
  const { data } = event;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError(`Event ${event.id}: data must be a JSON object or null, got ${describe(data)}`);
  }
  const time = new Date(event.time);
  // Left to the SDK, an invalid date fails serialization and an absent one becomes "now": both wrong.
  if (Number.isNaN(time.getTime())) throw new TypeError(`Event ${event.id}: time "${event.time}" is not a date`);
  return {
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time,
    datacontenttype: event.datacontenttype,
    data,
    ...(event.bridgeorigin ? { extensionAttributes: { bridgeorigin: event.bridgeorigin } } : {}),
  };
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'an array' : typeof value;
}

/** The service's own words: the `error.message` of a JSON error body, else the text, on one line and short. */
function serviceMessage(text: string): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof parsed?.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not JSON: the text it is.
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > MAX_REASON_LENGTH ? `${message.slice(0, MAX_REASON_LENGTH)}…` : message;
}

/** What to check, for the statuses whose fix is on our side rather than a matter of waiting. */
function statusHint(status: number, usesKey: boolean): string {
  if (status === 401 || status === 403) {
    return usesKey
      ? ". Check EVENTGRID_TOPIC_KEY: it must be one of the topic's current access keys."
      : `. Check that the app's identity has the "EventGrid Data Sender" role on the topic.`;
  }
  if (status === 404)
    return ". Check EVENTGRID_TOPIC_ENDPOINT: it must be the topic's endpoint, ending in /api/events.";
  if (status === 413) return '. The request was larger than Event Grid accepts (1 MB); this is a packing bug.';
  return '';
}

function isLoopbackHttp(endpoint: string): boolean {
  try {
    const { protocol, hostname } = new URL(endpoint);
    return protocol === 'http:' && (hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]');
  } catch {
    return false;
  }
}
