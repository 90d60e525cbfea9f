import { createHash } from 'node:crypto';
import type { NormalizedContext } from '../dataverse/types.js';

/**
 * The dedupe key of a context, which is also its job id: 32 hex characters (128 bits of a SHA-256).
 *
 * It hashes what identifies one execution of one step on one operation, and nothing a retry changes:
 * - `operationId`: for asynchronous steps the system job id, stable across Dataverse's own retries; for synchronous
 *   steps it equals the request id, so on its own it would merge the posts of two steps on the same request, hence
 * - `owningExtension.id` (the step), `stage`, `depth`, `messageName` and the primary row, and
 * - `operationCreatedOn` (millisecond precision), which tells apart two operations of one request on the same row.
 * Service Bus redelivery and Dataverse retries repeat all of these; message ids and delivery counts are left out
 * because they change.
 *
 * A context without an OperationId (hand-made ones) falls back to the hash of its exact bytes.
 */
export function jobKeyForContext(context: NormalizedContext, rawBytes: Uint8Array): string {
  if (context.operationId === null) return jobKeyForBytes(rawBytes);
  const identity = [
    'ctx1',
    context.organizationId,
    context.operationId,
    context.operationCreatedOn,
    context.owningExtension?.id,
    context.messageName,
    context.primaryEntityName,
    context.primaryEntityId,
    context.stage,
    context.depth,
  ].join('\n');
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}

/** The job id of a message that could not be read: the hash of its exact bytes, so redeliveries land on one job. */
export function jobKeyForBytes(rawBytes: Uint8Array): string {
  return createHash('sha256').update('raw1\n').update(rawBytes).digest('hex').slice(0, 32);
}
