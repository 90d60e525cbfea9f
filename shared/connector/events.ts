import { createHash, randomUUID } from 'node:crypto';
import { GUID, LOGICAL_NAME, MESSAGE_NAME } from '../dataverse/names.js';
import { eventIdFor } from '../events/eventId.js';
import { type IngestDeps, ingest } from '../pipeline/ingest.js';
import { retryAfter } from '../pipeline/webhook.js';
import { type ApiResponse, apiError } from './responses.js';

/** The body of `POST /api/events`. */
export interface PublishEventRequest {
  /** The table's logical name, e.g. `account`. */
  table: string;
  /** The row id (a GUID). */
  rowId: string;
  /** The message name, e.g. `Update` or a custom API's name. */
  message: string;
  /** Column values (strings, numbers, booleans or null), carried as the Target row. */
  attributes?: Record<string, unknown>;
  /** The same key twice publishes once (a retried flow action is not published twice). */
  idempotencyKey?: string;
}

/** What `POST /api/events` answers (202). */
export interface PublishResult {
  jobId: string;
  eventId: string;
  status: 'published' | 'duplicate';
}

/** On-demand events have no Dataverse organization behind them; their `source` is `/organizations/<this>`. */
export const ON_DEMAND_ORGANIZATION_ID = '00000000-0000-0000-0000-000000000000';
/** `initiatingUserAgent` of an on-demand event, so consumers can tell them from Dataverse's. */
export const ON_DEMAND_USER_AGENT = 'Dataverse Bridge connector (PublishEvent)';

/**
 * `POST /api/events`: publishes an event on demand from an app or flow. The request becomes an execution context of
 * the same shape Dataverse posts (the attributes as its Target row) and goes through the same pipeline: the same
 * normalization, dedupe, job record and fan-out, so subscribers cannot tell the path apart except by
 * `initiatingUserAgent` and the organization (`ON_DEMAND_ORGANIZATION_ID`).
 *
 * Dedupe: with an `idempotencyKey`, the same key for the same table, row and message is published once (the
 * operation id is derived from it); without one, every call is a new event.
 *
 * @example
 * await publishEvent({ table: 'account', rowId: '…', message: 'Update', attributes: { name: 'Contoso' } }, deps);
 * // { status: 202, jsonBody: { jobId: '…', eventId: '…', status: 'published' } }
 */
export async function publishEvent(request: PublishEventRequest, deps: IngestDeps): Promise<ApiResponse> {
  const invalid = validate(request);
  if (invalid) return invalid;
  const operationId =
    request.idempotencyKey === undefined
      ? randomUUID()
      : eventIdFor(
          createHash('sha256')
            .update(
              ['api1', request.table, request.rowId.toLowerCase(), request.message, request.idempotencyKey].join('\n'),
            )
            .digest('hex')
            .slice(0, 32),
        );
  // Dataverse writes row ids in lower case; so do we, so the same row in any case is one row and one dedupe key.
  const row = { ...request, rowId: request.rowId.toLowerCase() };
  const body = Buffer.from(JSON.stringify(contextFor(row, operationId)), 'utf8');
  const [outcome] = (await ingest([{ body, source: 'api', transport: { contentType: 'application/json' } }], deps))
    .outcomes;
  if (!outcome) throw new Error('ingest returned no outcome for an on-demand event');
  switch (outcome.status) {
    case 'published':
    case 'duplicate': {
      const result: PublishResult = {
        jobId: outcome.jobId,
        eventId: outcome.eventId ?? eventIdFor(outcome.jobId),
        status: outcome.status,
      };
      return { status: 202, jsonBody: result };
    }
    case 'rejected':
      return apiError(
        400,
        outcome.error?.code ?? 'Rejected',
        outcome.error?.message ?? 'The event was rejected.',
        outcome.error?.path,
      );
    default: {
      const response = apiError(
        503,
        'RetryLater',
        `The event could not be published yet (${outcome.error?.message ?? outcome.status}); try again. Job ${outcome.jobId} records it.`,
      );
      return { ...response, headers: { 'Retry-After': retryAfter(outcome, deps.leaseSeconds) } };
    }
  }
}

function validate(request: PublishEventRequest): ApiResponse | undefined {
  if (!LOGICAL_NAME.test(request.table)) {
    return apiError(
      400,
      'InvalidBody',
      'table must be a table logical name such as account (letters, digits, _).',
      'table',
    );
  }
  if (!GUID.test(request.rowId)) {
    return apiError(
      400,
      'InvalidBody',
      'rowId must be a row id: a GUID such as 6d81597f-0f9f-e711-8122-000d3aa2331c.',
      'rowId',
    );
  }
  if (!MESSAGE_NAME.test(request.message)) {
    return apiError(400, 'InvalidBody', 'message must be a message name such as Update or new_MyCustomApi.', 'message');
  }
  for (const [name, value] of Object.entries(request.attributes ?? {})) {
    if (value !== null && !['string', 'number', 'boolean'].includes(typeof value)) {
      return apiError(
        400,
        'InvalidBody',
        `attributes.${name} must be a string, number, boolean or null; send lookups as the related row's id.`,
        `attributes.${name}`,
      );
    }
  }
  return undefined;
}

/** The execution context, in Dataverse's own JSON format, that stands for the request. */
function contextFor(request: PublishEventRequest, operationId: string): Record<string, unknown> {
  const attributes = Object.entries(request.attributes ?? {}).map(([key, value]) => ({ key, value }));
  return {
    MessageName: request.message,
    PrimaryEntityName: request.table,
    PrimaryEntityId: request.rowId,
    OrganizationId: ON_DEMAND_ORGANIZATION_ID,
    OperationId: operationId,
    InitiatingUserAgent: ON_DEMAND_USER_AGENT,
    InputParameters: [
      {
        key: 'Target',
        value: {
          __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
          Attributes: attributes,
          EntityState: null,
          FormattedValues: [],
          Id: request.rowId,
          KeyAttributes: [],
          LogicalName: request.table,
          RelatedEntities: [],
          RowVersion: null,
        },
      },
    ],
    OutputParameters: [],
    PreEntityImages: [],
    PostEntityImages: [],
    SharedVariables: [],
    ParentContext: null,
  };
}
