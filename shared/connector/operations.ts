/**
 * THE declaration of every connector operation: the function files register their HTTP triggers from it
 * ({@link httpTrigger}), `openapi.ts` generates the Swagger 2.0 definition from it, and `requests.ts` validates
 * request bodies against the schemas it names. One list, so the routes, the definition and the validation cannot
 * drift apart.
 */
import { JOB_ID_PATTERN } from '../pipeline/jobs.js';
import {
  type DefinitionName,
  type DynamicValues,
  ref,
  type Schema,
  TABLE_DROPDOWN,
  type Visibility,
} from './schemas.js';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';
export type AuthLevel = 'anonymous' | 'function';

/** The function name each operation is registered under with `app.http`. */
export type OperationName =
  | 'health'
  | 'openApiDefinition'
  | 'listTables'
  | 'listChanges'
  | 'getRow'
  | 'publishEvent'
  | 'listJobs'
  | 'getJob'
  | 'replayJob'
  | 'createSubscription'
  | 'listSubscriptions'
  | 'deleteSubscription';

/** A path or query parameter, already in its Swagger 2.0 form. */
export interface ParameterDeclaration {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  type: 'string' | 'integer' | 'boolean';
  format?: string;
  pattern?: string;
  enum?: readonly string[];
  default?: string | number | boolean;
  minimum?: number;
  maximum?: number;
  description: string;
  'x-ms-summary': string;
  'x-ms-visibility': Visibility;
  /** On every path parameter: the connector encodes the value once, as the route expects. */
  'x-ms-url-encoding'?: 'single';
  'x-ms-dynamic-values'?: DynamicValues;
}

/** The default body limit: far above any legitimate request, far below what would hurt a function instance. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** The JSON request body: the definition its schema is, how the body parameter is shown, and its size limit. */
export interface BodyDeclaration {
  definition: DefinitionName;
  summary: string;
  description: string;
  /** The largest body the operation reads, in bytes; a larger one is answered 413 `PayloadTooLarge`. */
  maxBytes: number;
}

export interface ResponseDeclaration {
  description: string;
  schema?: Schema;
  headers?: Record<string, { type: 'string'; description: string }>;
}

export interface OperationDeclaration {
  name: OperationName;
  /** PascalCase, unique: what makers and the definition call the operation. */
  operationId: string;
  method: HttpMethod;
  /** The Functions route (host.json routePrefix `api` is not part of it). */
  route: string;
  authLevel: AuthLevel;
  /** Sentence case, at most 80 characters, no trailing punctuation: the operation's name in the designer. */
  summary: string;
  /** Different from the summary; ends with a period. */
  description: string;
  visibility: Visibility;
  parameters: readonly ParameterDeclaration[];
  body?: BodyDeclaration;
  /** By status code (and `default`, without a schema). */
  responses: Readonly<Record<string, ResponseDeclaration>>;
  /** `x-ms-trigger`: the operation subscribes a webhook trigger. */
  trigger?: 'single';
  /** `x-ms-pageable`: the response's `nextLink` points at the next page. */
  pageable?: boolean;
  /** `x-ms-notification-content` of the operation's path: what the webhook trigger delivers. */
  notification?: { description: string; schema: Schema };
}

/** What an `app.http` registration takes from the declaration. */
export interface HttpTriggerOptions {
  route: string;
  methods: HttpMethod[];
  authLevel: AuthLevel;
}

const ok = (description: string, schema: Schema): ResponseDeclaration => ({ description, schema });
const problem = (description: string): ResponseDeclaration => ({ description, schema: ref('Error') });
const UNEXPECTED: ResponseDeclaration = { description: 'An unexpected error.' };
// The Functions host checks function keys before our code runs and answers 401 without a body.
const NO_KEY: ResponseDeclaration = { description: 'The function key is missing or wrong.' };
const BAD_PARAMETER = problem('A parameter is not valid; the error names it and says what is expected.');
const BAD_BODY = problem('The body is not valid JSON or does not match the schema; the error names the field.');
const TOO_LARGE = problem('The body is larger than the operation accepts.');
const NOT_JSON = problem('The body is not sent as application/json.');

function pathParameter(
  name: string,
  summary: string,
  description: string,
  extra: Partial<ParameterDeclaration> = {},
): ParameterDeclaration {
  const { 'x-ms-dynamic-values': dynamicValues, ...rest } = extra;
  return {
    name,
    in: 'path',
    required: true,
    type: 'string',
    ...rest,
    description,
    'x-ms-summary': summary,
    'x-ms-visibility': 'important',
    'x-ms-url-encoding': 'single',
    ...(dynamicValues ? { 'x-ms-dynamic-values': dynamicValues } : {}),
  };
}

function queryParameter(
  name: string,
  summary: string,
  description: string,
  visibility: Visibility,
  extra: Partial<ParameterDeclaration> = {},
): ParameterDeclaration {
  return {
    name,
    in: 'query',
    required: false,
    type: 'string',
    ...extra,
    description,
    'x-ms-summary': summary,
    'x-ms-visibility': visibility,
  };
}

const TABLE = pathParameter('table', 'Table', 'The logical name of the table, e.g. account.', {
  'x-ms-dynamic-values': TABLE_DROPDOWN,
});
const SINCE = queryParameter('since', 'Since', 'Only entries at or after this time (ISO 8601, UTC).', 'advanced', {
  format: 'date-time',
});
const TOP = queryParameter('top', 'Page Size', 'How many entries per page, from 1 to 1000.', 'advanced', {
  type: 'integer',
  format: 'int32',
  default: 50,
  minimum: 1,
  maximum: 1000,
});
// Paging follows nextLink (x-ms-pageable), which already carries the token: makers never type one.
const CONTINUATION = queryParameter(
  'continuation',
  'Continuation',
  'The token of the next page, as nextLink carries it.',
  'internal',
);
const JOB_ID = pathParameter('id', 'Job ID', 'The id of the job: 32 hexadecimal characters.', {
  pattern: JOB_ID_PATTERN.source,
});

const DECLARATIONS: { [K in OperationName]: Omit<OperationDeclaration, 'name'> } = {
  health: {
    operationId: 'GetHealth',
    method: 'GET',
    route: 'health',
    authLevel: 'anonymous',
    summary: 'Check the service health',
    description:
      'Checks that the bridge reaches its storage, its Event Grid topic and (when configured) Dataverse, and returns its version.',
    visibility: 'advanced',
    parameters: [],
    responses: {
      '200': ok('Every dependency answered.', ref('Health')),
      '503': ok('A dependency failed; its check says which.', ref('Health')),
      default: UNEXPECTED,
    },
  },
  openApiDefinition: {
    operationId: 'GetApiDefinition',
    method: 'GET',
    route: 'openapi.json',
    authLevel: 'anonymous',
    summary: 'Get the connector definition',
    description: 'Returns this Swagger 2.0 definition, with the host name that served it.',
    visibility: 'internal',
    parameters: [],
    responses: {
      '200': ok('The Swagger 2.0 definition.', {
        type: 'object',
        description: 'A Swagger 2.0 document describing every operation.',
        'x-ms-summary': 'Definition',
      }),
      default: UNEXPECTED,
    },
  },
  listTables: {
    operationId: 'ListTables',
    method: 'GET',
    route: 'tables',
    authLevel: 'function',
    summary: 'List tables',
    description: 'Lists the Dataverse tables events have been seen for; other operations offer them in a dropdown.',
    visibility: 'advanced',
    parameters: [],
    responses: { '200': ok('The tables, by name.', ref('TableList')), '401': NO_KEY, default: UNEXPECTED },
  },
  listChanges: {
    operationId: 'ListChanges',
    method: 'GET',
    route: 'tables/{table}/changes',
    authLevel: 'function',
    summary: 'List changes to a table',
    description: 'Lists the recorded changes to rows of a table, newest first, a page at a time.',
    visibility: 'important',
    parameters: [TABLE, SINCE, TOP, CONTINUATION],
    pageable: true,
    responses: {
      '200': ok('A page of changes.', ref('ChangePage')),
      '400': BAD_PARAMETER,
      '401': NO_KEY,
      default: UNEXPECTED,
    },
  },
  getRow: {
    operationId: 'GetRow',
    method: 'GET',
    route: 'tables/{table}/rows/{id}',
    authLevel: 'function',
    summary: 'Get the latest state of a row',
    description: 'Gets the newest known column values of a row, merged from every event seen for it.',
    visibility: 'important',
    parameters: [TABLE, pathParameter('id', 'Row ID', 'The id of the row (a GUID).', { format: 'uuid' })],
    responses: {
      '200': ok('The row as last seen (a tombstone after a Delete).', ref('RowSnapshot')),
      '400': BAD_PARAMETER,
      '401': NO_KEY,
      '404': problem('No event has been seen for the row.'),
      default: UNEXPECTED,
    },
  },
  publishEvent: {
    operationId: 'PublishEvent',
    method: 'POST',
    route: 'events',
    authLevel: 'function',
    summary: 'Publish an event',
    description: 'Publishes an event about a row to every subscriber, the same way as the events Dataverse sends.',
    visibility: 'important',
    parameters: [],
    body: {
      definition: 'PublishEventRequest',
      summary: 'Event',
      description: 'The row, the message and the column values of the event.',
      maxBytes: DEFAULT_MAX_BODY_BYTES,
    },
    responses: {
      '202': ok('The event was published (or had been, with the same idempotency key).', ref('PublishResult')),
      '400': BAD_BODY,
      '401': NO_KEY,
      '413': TOO_LARGE,
      '415': NOT_JSON,
      '503': problem('Storage or Event Grid is unavailable; try again after Retry-After seconds.'),
      default: UNEXPECTED,
    },
  },
  listJobs: {
    operationId: 'ListJobs',
    method: 'GET',
    route: 'jobs',
    authLevel: 'function',
    summary: 'List processing jobs',
    description: 'Lists the processing record of every message received, filtered by status and time, page by page.',
    visibility: 'advanced',
    parameters: [
      queryParameter('status', 'Job Status', 'Only jobs in this status.', 'important', {
        enum: ['received', 'published', 'rejected', 'failed'],
      }),
      SINCE,
      TOP,
      CONTINUATION,
    ],
    pageable: true,
    responses: {
      '200': ok('A page of jobs.', ref('JobPage')),
      '400': BAD_PARAMETER,
      '401': NO_KEY,
      default: UNEXPECTED,
    },
  },
  getJob: {
    operationId: 'GetJob',
    method: 'GET',
    route: 'jobs/{id}',
    authLevel: 'function',
    summary: 'Get a job',
    description: 'Gets the processing record of one message, with the reason when it was rejected or failed.',
    visibility: 'advanced',
    parameters: [JOB_ID],
    responses: {
      '200': ok('The job.', ref('Job')),
      '400': BAD_PARAMETER,
      '401': NO_KEY,
      '404': problem('There is no job with this id.'),
      default: UNEXPECTED,
    },
  },
  replayJob: {
    operationId: 'ReplayJob',
    method: 'POST',
    route: 'jobs/{id}/replay',
    authLevel: 'function',
    summary: 'Replay a job',
    description: 'Runs a rejected or failed message through the pipeline again, exactly as it first arrived.',
    visibility: 'advanced',
    parameters: [JOB_ID],
    responses: {
      '200': ok('What the replay did.', ref('ReplayResult')),
      '400': BAD_PARAMETER,
      '401': NO_KEY,
      '404': problem('There is no job with this id.'),
      '409': problem('The job is not rejected or failed, or its kept body is gone.'),
      default: UNEXPECTED,
    },
  },
  createSubscription: {
    operationId: 'WhenAnEventOccurs',
    method: 'POST',
    route: 'subscriptions',
    authLevel: 'function',
    summary: 'When a Dataverse event occurs',
    description: 'Triggers when Dataverse reports an operation on a row that matches the chosen table and messages.',
    visibility: 'important',
    parameters: [],
    body: {
      definition: 'SubscriptionRequest',
      summary: 'Subscription',
      description: 'Which events start the flow.',
      // A callback URL of at most 4,096 characters and a few short lists.
      maxBytes: 16 * 1024,
    },
    trigger: 'single',
    notification: {
      description: 'The operation Dataverse reported, as a normalized execution context.',
      schema: ref('DataverseContext'),
    },
    responses: {
      '201': {
        description: 'The subscription was created.',
        schema: ref('SubscriptionCreated'),
        headers: {
          Location: {
            type: 'string',
            description: 'The URL that deletes the subscription (DELETE, no key needed).',
          },
        },
      },
      '400': BAD_BODY,
      '401': NO_KEY,
      '413': TOO_LARGE,
      '415': NOT_JSON,
      default: UNEXPECTED,
    },
  },
  listSubscriptions: {
    operationId: 'ListSubscriptions',
    method: 'GET',
    route: 'subscriptions',
    authLevel: 'function',
    summary: 'List subscriptions',
    description: 'Lists the webhook subscriptions of flows, with their filters and delivery health.',
    visibility: 'advanced',
    parameters: [],
    responses: { '200': ok('Every subscription.', ref('SubscriptionList')), '401': NO_KEY, default: UNEXPECTED },
  },
  deleteSubscription: {
    operationId: 'DeleteSubscription',
    method: 'DELETE',
    route: 'subscriptions/{id}',
    authLevel: 'anonymous',
    summary: 'Delete a subscription',
    description: 'Deletes a webhook subscription; called through the Location URL when its flow is turned off.',
    visibility: 'internal',
    parameters: [
      pathParameter('id', 'Subscription ID', 'The id of the subscription: 32 hexadecimal characters.', {
        pattern: JOB_ID_PATTERN.source,
      }),
      // Required, and not internal: an internal required parameter would need a default, and there is none.
      {
        ...queryParameter(
          'token',
          'Delete Token',
          'The token the Location URL of the subscription carries.',
          'important',
        ),
        required: true,
      },
    ],
    responses: {
      '200': ok('The subscription was deleted.', ref('DeleteResult')),
      '400': BAD_PARAMETER,
      '401': problem('The token is missing or does not belong to this subscription.'),
      '404': problem('There is no subscription with this id.'),
      default: UNEXPECTED,
    },
  },
};

/**
 * Every operation, in the order the definition lists them.
 *
 * @example
 * operations.find((op) => op.trigger)?.operationId; // 'WhenAnEventOccurs'
 */
export const operations: readonly OperationDeclaration[] = Object.entries(DECLARATIONS).map(([name, declaration]) => ({
  name: name as OperationName,
  ...declaration,
}));

/** The declaration of one operation, by function name. */
export function operation(name: OperationName): OperationDeclaration {
  const found = operations.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`No connector operation named ${name}.`);
  return found;
}

/**
 * The `app.http` options of an operation, so the registration takes its route, method and auth level from the
 * declaration and cannot drift from the definition.
 *
 * @example
 * app.http('listTables', { ...httpTrigger('listTables'), handler: listTables });
 * // route 'tables', methods ['GET'], authLevel 'function'
 */
export function httpTrigger(name: OperationName): HttpTriggerOptions {
  const { route, method, authLevel } = operation(name);
  return { route, methods: [method], authLevel };
}

/**
 * The body limit of each operation, by function name: its declared `maxBytes`, or 0 for an operation that takes no
 * body. A host can refuse a larger body while it streams in, and leave unread a body the operation would not read.
 *
 * @example
 * bodyLimits().health;       // 0
 * bodyLimits().publishEvent; // 65536
 */
export function bodyLimits(): Record<string, number> {
  return Object.fromEntries(operations.map((op) => [op.name, op.body?.maxBytes ?? 0]));
}
