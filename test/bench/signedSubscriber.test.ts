import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signBody } from '../../shared/subscriptions/signature.js';
import { type SignedSubscriber, startSignedSubscriber } from './signedSubscriber.js';

const SECRET = 'a-subscription-secret-of-32-chars';
let subscriber: SignedSubscriber;

beforeEach(async () => {
  subscriber = await startSignedSubscriber();
  subscriber.setSecret(SECRET);
});
afterEach(() => subscriber.stop());

function deliver(body: string, signature: string | undefined): Promise<Response> {
  return fetch(subscriber.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature ? { 'x-bridge-signature-256': signature } : {}) },
    body,
  });
}

describe('the latency benchmark subscriber', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(subscriber.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hook$/);
  });

  it('times the arrival of a correctly signed delivery of the context it waits for', async () => {
    const body = JSON.stringify({ messageName: 'Update', operationId: 'op-1' });
    const arrival = subscriber.arrival('op-1', 5_000);
    const sent = performance.now();
    const response = await deliver(body, signBody(SECRET, Buffer.from(body)));
    expect(response.status).toBe(204);
    const at = await arrival;
    expect(at).toBeGreaterThanOrEqual(sent);
    expect(at).toBeLessThanOrEqual(performance.now());
    expect(subscriber.refused()).toBe(0);
  });

  it('refuses with 401, and does not count as arrived, a missing, malformed or wrong signature', async () => {
    const body = JSON.stringify({ operationId: 'op-2' });
    const arrival = subscriber.arrival('op-2', 300);
    expect((await deliver(body, undefined)).status).toBe(401);
    expect((await deliver(body, 'sha256=xyz')).status).toBe(401);
    expect((await deliver(body, signBody('another-secret-of-32-characters!', Buffer.from(body)))).status).toBe(401);
    // Signed over other bytes: the same JSON re-serialized with a space.
    expect((await deliver(body, signBody(SECRET, Buffer.from(body.replace(':', ': '))))).status).toBe(401);
    expect(subscriber.refused()).toBe(4);
    await expect(arrival).rejects.toThrow('No signed delivery of context op-2 within 300 ms');
  });
});
