import type { NormalizedContext } from '../dataverse/types.js';
import type { BridgeEvent } from './types.js';

/**
 * The CloudEvent for a normalized context (DESIGN.md, "The event"). `eventId` must be deterministic for the
 * context (see `eventIdFor`), so a consumer that sees it twice knows it is the same event.
 *
 * @example
 * toCloudEvent(context, '6f1c…').type;    // 'dataverse.update'
 * toCloudEvent(context, '6f1c…').subject; // 'contact/6d81597f-0f9f-e711-8122-000d3aa2331c'
 */
export function toCloudEvent(context: NormalizedContext, eventId: string, receivedAt: Date): BridgeEvent {
  return {
    specversion: '1.0',
    id: eventId,
    source: context.organizationUrl ?? `/organizations/${context.organizationId}`,
    type: `dataverse.${context.messageName.toLowerCase()}`,
    subject: `${context.primaryEntityName}/${context.primaryEntityId}`,
    // Contexts without OperationCreatedOn (hand-made ones) are stamped with the time we received them.
    time: context.operationCreatedOn ?? receivedAt.toISOString(),
    datacontenttype: 'application/json',
    data: context,
  };
}
