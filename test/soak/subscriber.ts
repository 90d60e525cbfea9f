import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import type { ReceivedCloudEvent } from '../helpers/eventGridReceiver.js';
import { closeServer } from '../helpers/ports.js';

/** One POST the subscriber received and answered 200, with the headers the README's delivery table names. */
export interface ReceivedDelivery {
  deliveryId: string;
  eventId: string;
  subscriptionId: string;
  /** `operationId` of the body (the normalized context), to trace the delivery back to what the soak sent. */
  operationId: string;
  /** Whether `X-Bridge-Signature-256` is the HMAC-SHA256 of the exact body with the subscription's secret. */
  signatureOk: boolean;
}

/** A local webhook receiver standing in for a flow's callback URL; it answers every delivery 200. */
export interface Subscriber {
  callbackUrl: string;
  deliveries: ReceivedDelivery[];
  stop(): Promise<void>;
}

/** Starts the receiver on 127.0.0.1 (a free port); `secret` is the one the subscription is created with. */
export async function startSubscriber(secret: string): Promise<Subscriber> {
  const deliveries: ReceivedDelivery[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => response.destroy());
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const header = (name: string) => String(request.headers[name] ?? '');
      // Written from the README's "Verifying the signature", not with the app's own signing code.
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const given = Buffer.from(header('x-bridge-signature-256'));
      let operationId = '(no operationId)';
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { operationId?: unknown };
        if (typeof parsed.operationId === 'string') operationId = parsed.operationId;
      } catch {
        operationId = '(not JSON)';
      }
      deliveries.push({
        deliveryId: header('x-bridge-delivery-id'),
        eventId: header('x-bridge-event-id'),
        subscriptionId: header('x-bridge-subscription-id'),
        operationId,
        signatureOk: given.length === expected.length && timingSafeEqual(given, expected),
      });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    callbackUrl: `http://127.0.0.1:${port}/hook`,
    deliveries,
    stop: () => closeServer(server),
  };
}

/**
 * Event Grid's push to the `deliverSubscriptions` subscription: every event the topic accepted goes to the function
 * (here through the local host's admin invoke, `POST /admin/functions/deliverSubscriptions`), and a failed delivery
 * (a 500, or no answer because the process died) is retried with a backoff, up to `maxAttempts`, as Event Grid's
 * retry policy does (https://learn.microsoft.com/azure/event-grid/delivery-and-retry: 30 attempts by default; the
 * waits are shortened here).
 */
export class EventGridPush {
  readonly stats = { invocations: 0, retries: 0, givenUp: 0 };
  readonly problems: string[] = [];
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly request: (path: string, init?: RequestInit) => Promise<Response>,
    concurrency: number,
    private readonly maxAttempts = 30,
    /** The Event Grid–triggered function pushed to (a subscription of its own on the topic). */
    private readonly functionName = 'deliverSubscriptions',
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Queues the accepted events, one delivery each (Event Grid's default batch size is 1). */
  push(events: readonly ReceivedCloudEvent[]): void {
    for (const event of events) {
      const delivery = this.limit(() => this.deliver(event)).finally(() => this.pending.delete(delivery));
      this.pending.add(delivery);
    }
  }

  /** Resolves once every queued event was delivered or given up, including events queued meanwhile. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async deliver(event: ReceivedCloudEvent): Promise<void> {
    const body = JSON.stringify({ input: event });
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      this.stats.invocations++;
      let status = 0;
      let text = '';
      try {
        const response = await this.request(`/admin/functions/${this.functionName}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(120_000),
        });
        status = response.status;
        text = await response.text();
      } catch {
        // No answer (the process was killed, or is restarting): not delivered.
      }
      if (status === 202) return;
      if (status !== 0 && status !== 500) {
        this.problems.push(`${this.functionName} answered ${status}: ${text.slice(0, 200)}`);
        return;
      }
      if (attempt === this.maxAttempts) break;
      this.stats.retries++;
      await backoff(attempt);
    }
    this.stats.givenUp++;
  }
}

/**
 * 100 ms, 200 ms, 400 ms, … capped at 3 s: quicker than Service Bus, Dataverse or Event Grid would, to keep runs short,
 * yet 10 attempts (about 15 s) outlast a restart and the soak's lease.
 */
export function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(3_000, 100 * 2 ** (attempt - 1))));
}
