import { createHash, randomUUID } from 'node:crypto';
import { eventIdFor } from '../events/eventId.js';
import { type IngestDeps, ingest } from '../pipeline/ingest.js';
import { outcomeResponse } from '../pipeline/outcomeResponse.js';
import { checkShape } from './requests.js';
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
  return outcomeResponse(outcome, deps.leaseSeconds, {
    accepted: 202,
    noun: 'event',
    jobIdInErrors: false,
    retryError: ({ jobId, status, error }) => ({
      code: 'RetryLater',
      message: `The event could not be published yet (${error?.message ?? status}); try again. Job ${jobId} records it.`,
    }),
  });
}

/**
 * The schema (`PublishEventRequest`) owns the shape: required fields, patterns, unknown fields. What it cannot say in
 * Swagger 2.0 is checked here: that each column value is a string, number, boolean or null.
 */
function validate(request: PublishEventRequest): ApiResponse | undefined {
  const problem = checkShape('PublishEventRequest', request);
  if (problem) return apiError(400, 'InvalidBody', problem.message, problem.target);
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
