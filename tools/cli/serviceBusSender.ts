import type { ServiceBusClientOptions, ServiceBusMessage, ServiceBusMessageBatch } from '@azure/service-bus';

/** One Dataverse context as Dataverse puts it on a Service Bus queue. */
export interface OutboundMessage {
  /** The context's bytes, exactly as they are to arrive. */
  body: Buffer;
  contentType: string;
  messageId: string;
  /** The claim properties Dataverse sets (`DATAVERSE_PROPERTIES`). */
  applicationProperties: Record<string, string>;
}

/** What became of one message: `ok`, or the error that kept it from the queue (secrets already removed). */
export type SendOutcome = { ok: true } | { ok: false; code: string; message: string };

/** Puts messages on a queue. The CLI talks to this, so it can be tested without a Service Bus namespace. */
export interface QueueSender {
  /** Sends every message; returns one outcome per message, in order. Never throws for a send that failed. */
  send(messages: readonly OutboundMessage[]): Promise<SendOutcome[]>;
  close(): Promise<void>;
}

/** The part of `ServiceBusMessageBatch` the adapter uses. */
export interface MessageBatchLike {
  readonly count: number;
  readonly maxSizeInBytes: number;
  tryAddMessage(message: ServiceBusMessage): boolean;
}

/** The part of `ServiceBusSender` the adapter uses. */
export interface ServiceBusSenderLike<Batch extends MessageBatchLike = MessageBatchLike> {
  createMessageBatch(): Promise<Batch>;
  sendMessages(batch: Batch): Promise<void>;
  close(): Promise<void>;
}

/** The part of `ServiceBusClient` the adapter uses (tests pass a fake). */
export interface ServiceBusClientLike<Batch extends MessageBatchLike = MessageBatchLike> {
  createSender(queueOrTopicName: string): ServiceBusSenderLike<Batch>;
  close(): Promise<void>;
}

/** The connection string could not be used (malformed): a usage error, reported without its secrets. */
export class ServiceBusConnectionError extends Error {
  override name = 'ServiceBusConnectionError';
}

// A CLI should fail in seconds, not after the SDK's default of 3 retries of 60 s each.
const CLIENT_OPTIONS: ServiceBusClientOptions = { retryOptions: { maxRetries: 2, timeoutInMs: 30_000 } };

/**
 * Opens a sender on a real Service Bus queue. `@azure/service-bus` is loaded only here, so the other modes of the CLI
 * never pay for it.
 *
 * @example
 * const sender = await openServiceBusSender(process.env.SB!, 'dataverse');
 * try { await sender.send(messages); } finally { await sender.close(); }
 */
export async function openServiceBusSender(connectionString: string, queueName: string): Promise<QueueSender> {
  const { ServiceBusClient } = await import('@azure/service-bus');
  let client: ServiceBusClientLike<ServiceBusMessageBatch>;
  try {
    client = new ServiceBusClient(connectionString, CLIENT_OPTIONS);
  } catch (error) {
    throw new ServiceBusConnectionError(redactConnectionString(errorMessage(error), connectionString));
  }
  return new ServiceBusQueueSender(client, queueName, connectionString);
}

/**
 * Sends Dataverse contexts the way Dataverse does: the raw bytes as the body (a Buffer, which the SDK writes as an
 * AMQP data section unchanged; a string would be JSON.stringify'd into a quoted string), `application/json`, and the
 * claim properties. Messages go in as few batches as the queue's size limit allows, in order.
 */
export class ServiceBusQueueSender<Batch extends MessageBatchLike = MessageBatchLike> implements QueueSender {
  private sender: ServiceBusSenderLike<Batch> | undefined;

  /** `connectionString` is only used to scrub it from error messages. */
  constructor(
    private readonly client: ServiceBusClientLike<Batch>,
    private readonly queueName: string,
    private readonly connectionString: string,
  ) {}

  async send(messages: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const outcomes: (SendOutcome | undefined)[] = new Array(messages.length).fill(undefined);
    try {
      this.sender ??= this.client.createSender(this.queueName);
      const sender = this.sender;
      let batch: Batch | undefined;
      let members: number[] = [];
      const flush = async () => {
        if (!batch || members.length === 0) return;
        await sender.sendMessages(batch);
        for (const index of members) outcomes[index] = { ok: true };
        batch = undefined;
        members = [];
      };
      for (const [index, outbound] of messages.entries()) {
        const message = toServiceBusMessage(outbound);
        batch ??= await sender.createMessageBatch();
        if (batch.tryAddMessage(message)) {
          members.push(index);
          continue;
        }
        if (members.length > 0) {
          await flush();
          batch = await sender.createMessageBatch();
          if (batch.tryAddMessage(message)) {
            members.push(index);
            continue;
          }
        }
        // It does not fit even in an empty batch: larger than the queue's message size limit.
        outcomes[index] = {
          ok: false,
          code: 'MessageTooLarge',
          message: `${outbound.body.length} bytes do not fit in a message batch of ${batch.maxSizeInBytes} bytes`,
        };
      }
      await flush();
    } catch (error) {
      // What was not sent yet (the failed batch and everything after it) fails with the reason; no partial retries.
      const failure = this.describe(error);
      for (const [index, outcome] of outcomes.entries()) if (!outcome) outcomes[index] = failure;
    }
    return outcomes.map((outcome) => outcome ?? { ok: false, code: 'NotSent', message: 'not sent' });
  }

  async close(): Promise<void> {
    try {
      await this.sender?.close();
    } finally {
      await this.client.close();
    }
  }

  private describe(error: unknown): SendOutcome {
    const code = (error as { code?: unknown })?.code;
    return {
      ok: false,
      code: typeof code === 'string' && code !== '' ? code : ((error as Error)?.name ?? 'Error'),
      message: redactConnectionString(errorMessage(error), this.connectionString),
    };
  }
}

/** The SDK message for one context. */
export function toServiceBusMessage(message: OutboundMessage): ServiceBusMessage {
  return {
    body: message.body,
    contentType: message.contentType,
    messageId: message.messageId,
    applicationProperties: { ...message.applicationProperties },
  };
}

/** `Endpoint=sb://contoso.servicebus.windows.net/;…` → `contoso.servicebus.windows.net`; undefined when absent. */
export function namespaceHost(connectionString: string): string | undefined {
  const endpoint = /(?:^|;)\s*Endpoint\s*=\s*([^;]*)/i.exec(connectionString)?.[1]?.trim();
  if (!endpoint) return undefined;
  return /^[a-z][a-z0-9+.-]*:\/\/([^/;:?#]+)/i.exec(endpoint)?.[1] ?? undefined;
}

/**
 * Removes every secret of a connection string from a text (an SDK error can quote the connection string or the
 * endpoint): the whole string becomes its namespace host, and keys, signatures and SAS tokens become `<redacted>`.
 */
export function redactConnectionString(text: string, connectionString: string): string {
  let result = text;
  const trimmed = connectionString.trim();
  if (trimmed !== '') result = result.split(trimmed).join(namespaceHost(trimmed) ?? '<connection string>');
  for (const secret of secretValues(trimmed)) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) result = result.split(form).join('<redacted>');
  }
  return result
    .replace(/(SharedAccessKey\s*=\s*)[^;\s"'&]*/gi, '$1<redacted>')
    .replace(/(SharedAccessSignature\s*=\s*)[^;"'\n]*/gi, '$1<redacted>')
    .replace(/(\bsig=)[^&;\s"']*/gi, '$1<redacted>');
}

function secretValues(connectionString: string): string[] {
  const values: string[] = [];
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim().toLowerCase();
    const value = part.slice(at + 1).trim();
    // Short values would scrub ordinary words out of messages; keys and signatures are long.
    if ((name === 'sharedaccesskey' || name === 'sharedaccesssignature') && value.length >= 8) values.push(value);
  }
  return values;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
