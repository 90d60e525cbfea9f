import type { ContextBody } from '../dataverse/decode.js';
import type { TransportInfo } from '../dataverse/transport.js';
import type { JobSource } from './jobs.js';

/** One message as it reached a trigger, before we read it. */
export interface InboundMessage {
  body: ContextBody;
  source: JobSource;
  transport: TransportInfo;
  messageId?: string;
  deliveryCount?: number;
}

/** The exact bytes of a body. Objects the host already parsed are re-serialized (the original bytes are gone). */
export function bodyBytes(body: ContextBody): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body) ?? 'null', 'utf8');
}

function at(metadata: Readonly<Record<string, unknown>> | undefined, name: string, index: number): unknown {
  const values = metadata?.[name];
  return Array.isArray(values) ? values[index] : undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  if (typeof value === 'string') {
    try {
      return asRecord(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The messages of a Service Bus trigger invocation with `cardinality: 'many'`, paired with their metadata.
 *
 * The host passes the bodies as an array (Buffers with `dataType: 'binary'`, else strings or JSON it parsed) and the
 * per-message metadata as parallel arrays in `triggerMetadata`, whose keys the `@azure/functions` library camelCases:
 * `messageIdArray`, `deliveryCountArray`, `contentTypeArray`, `applicationPropertiesArray` (older extensions:
 * `userPropertiesArray`). A single message (`cardinality: 'one'`) comes with the singular names.
 */
export function serviceBusMessages(
  bodies: unknown,
  triggerMetadata: Readonly<Record<string, unknown>> | undefined,
  source: Extract<JobSource, 'queue' | 'topic'>,
): InboundMessage[] {
  const many = Array.isArray(bodies);
  // One message comes with the singular metadata names; a batch with parallel `…Array` ones.
  const meta = (name: string, i: number): unknown =>
    many ? at(triggerMetadata, `${name}Array`, i) : triggerMetadata?.[name];
  return (many ? bodies : [bodies]).map((body: unknown, i) => ({
    body: (body ?? '') as ContextBody,
    source,
    transport: {
      contentType: stringOrUndefined(meta('contentType', i)),
      applicationProperties: asRecord(meta('applicationProperties', i) ?? meta('userProperties', i)),
    },
    messageId: stringOrUndefined(meta('messageId', i)),
    deliveryCount: numberOrUndefined(meta('deliveryCount', i)),
  }));
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberOrUndefined(value: unknown): number | undefined {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}
