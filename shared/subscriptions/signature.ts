import { createHmac, timingSafeEqual } from 'node:crypto';

// The headers of a delivery (`deliverSubscriptions` → a subscription's callback URL). Header names are
// case-insensitive on the wire; these are the spellings we send.

/** `sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the subscription secret (UTF-8)>`. */
export const SIGNATURE_HEADER = 'X-Bridge-Signature-256';
/** Deterministic per event and subscription: a redelivery of the same event carries the same id. */
export const DELIVERY_ID_HEADER = 'X-Bridge-Delivery-Id';
/** The CloudEvent `id` the context came in. */
export const EVENT_ID_HEADER = 'X-Bridge-Event-Id';
/** The CloudEvent `type`, e.g. `dataverse.update`. */
export const EVENT_TYPE_HEADER = 'X-Bridge-Event-Type';
/** The subscription being served. */
export const SUBSCRIPTION_ID_HEADER = 'X-Bridge-Subscription-Id';

const PREFIX = 'sha256=';
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * The value of {@link SIGNATURE_HEADER} for a body: `sha256=` and the lower-case hex HMAC-SHA256 of the exact bytes
 * sent, keyed with the subscription secret's UTF-8 bytes.
 *
 * @example
 * signBody('my-secret-of-16+chars', Buffer.from('{"messageName":"Update"}'));
 * // 'sha256=5b1c…' (64 hex digits)
 */
export function signBody(secret: string, body: Uint8Array): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * What a receiver does to check a delivery, and the reference for writing it in another language: compute the
 * HMAC-SHA256 of the **raw request body bytes** (before any JSON parsing, which would change them) with the secret
 * the subscription was created with (the `secret` of the 201), and compare it to the header's hex digest in constant
 * time. `false` for a missing or malformed header.
 *
 * @example
 * // In an Express-style receiver with the body kept as bytes:
 * if (!verifySignature(secret, rawBody, req.headers['x-bridge-signature-256'])) return res.status(401).end();
 */
export function verifySignature(secret: string, body: Uint8Array, header: string | null | undefined): boolean {
  const hex = typeof header === 'string' ? SIGNATURE.exec(header.trim())?.[1] : undefined;
  if (hex === undefined) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  // Both are 32 bytes (the pattern fixes the length), as timingSafeEqual requires.
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}
