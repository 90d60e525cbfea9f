import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A webhook-trigger subscriber as the README tells receivers to write one, timing when each context arrives. */
export interface SignedSubscriber {
  /** `http://127.0.0.1:<port>/hook`: the callback URL to subscribe. */
  url: string;
  /** The subscription's secret (the `secret` of the 201): deliveries are checked against it. */
  setSecret(secret: string): void;
  /**
   * Resolves with the `performance.now()` at which the delivery of the context with this `operationId` arrived with
   * a valid signature; rejects after `timeoutMs`. Call it before sending the context.
   */
  arrival(operationId: string, timeoutMs: number): Promise<number>;
  /** Deliveries answered 401: a missing or wrong signature. */
  refused(): number;
  stop(): Promise<void>;
}

interface Waiter {
  resolve(at: number): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Starts a subscriber on 127.0.0.1 (a free port) that checks `X-Bridge-Signature-256` over the raw body bytes with
 * node:crypto (not with our own code), answers 204 to a good delivery and 401 to a bad one, and reports the arrival
 * of each context by its `operationId`.
 */
export async function startSignedSubscriber(): Promise<SignedSubscriber> {
  let secret: string | undefined;
  let refused = 0;
  const waiters = new Map<string, Waiter>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (secret === undefined || !validSignature(secret, body, req.headers['x-bridge-signature-256'])) {
        refused++;
        res.writeHead(401).end();
        return;
      }
      const at = performance.now();
      res.writeHead(204).end();
      const { operationId } = JSON.parse(body.toString('utf8')) as { operationId?: unknown };
      const waiter = typeof operationId === 'string' ? waiters.get(operationId) : undefined;
      if (waiter) {
        waiters.delete(operationId as string);
        clearTimeout(waiter.timer);
        waiter.resolve(at);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    setSecret: (value) => {
      secret = value;
    },
    arrival: (operationId, timeoutMs) =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(operationId);
          reject(new Error(`No signed delivery of context ${operationId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(operationId, { resolve, reject, timer });
      }),
    refused: () => refused,
    stop: () =>
      new Promise((resolve) => {
        for (const waiter of waiters.values()) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error('The subscriber stopped'));
        }
        waiters.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The README's check: HMAC-SHA256 of the raw bytes with the secret, compared in constant time. */
function validSignature(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  const given = /^sha256=([0-9a-f]{64})$/i.exec(String(header ?? '').trim())?.[1]?.toLowerCase();
  if (given === undefined) return false;
  const expected = createHmac('sha256', secret).update(body).digest('hex');
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
