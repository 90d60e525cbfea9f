import { type ContextBody, decodeContextBody } from './decode.js';
import { normalizeContext } from './normalize.js';
import { type TransportInfo, transportFacts } from './transport.js';
import type { NormalizedContext } from './types.js';

/**
 * Reads one Dataverse execution context as a transport delivers it and returns the normalized context
 * (DESIGN.md, "The normalized context").
 *
 * Throws {@link ContextFormatError} (a permanent error) when the body is not a readable context; the message says
 * where the problem is and, where it applies, what to change in the Dataverse registration.
 *
 * @example
 * const context = readContext(message.body, {
 *   contentType: message.contentType,
 *   applicationProperties: message.applicationProperties,
 * });
 * context.messageName;        // 'Update'
 * context.changedAttributes;  // ['firstname', 'contactid', …]
 */
export function readContext(body: ContextBody, transport?: TransportInfo): NormalizedContext {
  const raw = decodeContextBody(body, transport?.contentType);
  return normalizeContext(raw, transportFacts(transport));
}
