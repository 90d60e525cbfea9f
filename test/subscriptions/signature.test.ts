import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DELIVERY_ID_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  SUBSCRIPTION_ID_HEADER,
  signBody,
  verifySignature,
} from '../../shared/subscriptions/signature.js';

const SECRET = 'a-subscription-secret-of-some-length';
const BODY = Buffer.from('{"messageName":"Update","primaryEntityName":"contact"}', 'utf8');

/** What any receiver computes with a plain HMAC library. */
function hmacHex(secret: string, body: Uint8Array): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex');
}

describe('signBody', () => {
  it('is sha256= and the hex HMAC-SHA256 of the exact bytes, keyed with the secret', () => {
    expect(signBody(SECRET, BODY)).toBe(`sha256=${hmacHex(SECRET, BODY)}`);
  });

  it('matches a published HMAC-SHA256 test vector (RFC 4231, test case 2)', () => {
    const body = Buffer.from('what do ya want for nothing?', 'utf8');
    expect(signBody('Jefe', body)).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('verifySignature', () => {
  const header = `sha256=${hmacHex(SECRET, BODY)}`;

  it('accepts the signature of the body', () => {
    expect(verifySignature(SECRET, BODY, header)).toBe(true);
    expect(verifySignature(SECRET, BODY, header.toUpperCase().replace('SHA256=', 'sha256='))).toBe(true);
  });

  it('refuses a tampered body', () => {
    const tampered = Buffer.from(BODY);
    tampered[tampered.length - 3] = 'X'.charCodeAt(0);
    expect(verifySignature(SECRET, tampered, header)).toBe(false);
    expect(verifySignature(SECRET, Buffer.concat([BODY, Buffer.from(' ')]), header)).toBe(false);
  });

  it('refuses another secret', () => {
    expect(verifySignature(`${SECRET}x`, BODY, header)).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['without the prefix', hmacHex(SECRET, BODY)],
    ['another algorithm', `sha1=${hmacHex(SECRET, BODY)}`],
    ['truncated', header.slice(0, -2)],
    ['not hex', `sha256=${'z'.repeat(64)}`],
  ])('refuses a header that is %s', (_case, value) => {
    expect(verifySignature(SECRET, BODY, value)).toBe(false);
  });

  it('verifies what signBody signs, for any secret and body (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 512 }), (secret, body) => {
        const signature = signBody(secret, body);
        expect(signature).toBe(`sha256=${hmacHex(secret, body)}`);
        expect(verifySignature(secret, body, signature)).toBe(true);
      }),
      { seed: 20241121, numRuns: 200 },
    );
  });
});

describe('header names', () => {
  it('are the documented ones', () => {
    expect([SIGNATURE_HEADER, DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SUBSCRIPTION_ID_HEADER]).toEqual([
      'X-Bridge-Signature-256',
      'X-Bridge-Delivery-Id',
      'X-Bridge-Event-Id',
      'X-Bridge-Event-Type',
      'X-Bridge-Subscription-Id',
    ]);
  });
});
