/**
 * THE declaration of every connector operation: the function files register their HTTP triggers from it
 * ({@link httpTrigger}), `openapi.ts` generates the Swagger 2.0 definition from it, and `requests.ts` validates
 * request bodies against the schemas it names. One list, so the routes, the definition and the validation cannot
 * drift apart.
 */
import { JOB_ID_PATTERN, JOB_STATUSES } from '../pipeline/jobs.js';
import {
  DATAVERSE_TABLE_DROPDOWN,
  type DefinitionName,
  type DynamicValues,
  ref,
  type Schema,
  TABLE_DROPDOWN,
  type Visibility,
} from './schemas.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';
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
  | 'deleteSubscription'
  | 'listDataverseTables'
  | 'listDataverseColumns'
  | 'getDataverseTableSchema'
  | 'listDataverseRows'
  | 'createDataverseRow'
  | 'getDataverseRow'
  | 'updateDataverseRow'
  | 'deleteDataverseRow';

/** A path or query parameter, already in its Swagger 2.0 form. */
export interface ParameterDeclaration {
  name: string;
  in: 'path' | 'query' | 'header';
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
  /**
   * Checked by the handler rather than against `definition` (a Dataverse row, whose columns come from metadata and
   * whose definition is a dynamic schema).
   */
  checkedByHandler?: boolean;
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

const DATAVERSE_TABLE = pathParameter('table', 'Table', 'The logical name of the Dataverse table, e.g. account.', {
  'x-ms-dynamic-values': DATAVERSE_TABLE_DROPDOWN,
});
const ROW_ID = pathParameter('id', 'Row ID', 'The id of the row (a GUID).', { format: 'uuid' });

/** What every Dataverse operation may answer besides its own cases (identity, throttling, availability). */
function dataverseResponses(own: Record<string, ResponseDeclaration>): Record<string, ResponseDeclaration> {
  return {
    '400': BAD_PARAMETER,
    ...own,
    '401': problem('The bearer token is not valid (expired, another audience or tenant); WWW-Authenticate says why.'),
    '403': problem(
      'Dataverse refused for lack of a privilege, or a function key alone was used while BRIDGE_DATAVERSE_APP_OPERATIONS is not true.',
    ),
    '429': problem('Dataverse is throttling; try again after Retry-After seconds.'),
    '503': problem('Dataverse is unavailable; try again later.'),
    default: UNEXPECTED,
  };
}

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
    description:
      "Lists the Dataverse environment's tables from metadata, or the tables events were seen for; other operations offer them in a dropdown.",
    visibility: 'advanced',
    parameters: [],
    responses: {
      '200': ok('The tables, by name.', ref('TableList')),
      '401': NO_KEY,
      // With DATAVERSE_URL set, the list comes from Dataverse's metadata.
      '429': problem('Dataverse is throttling the metadata read; try again after Retry-After seconds.'),
      '503': problem('Dataverse is unavailable for the metadata read; try again later.'),
      default: UNEXPECTED,
    },
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
        enum: [...JOB_STATUSES],
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
  listDataverseTables: {
    operationId: 'ListDataverseTables',
    method: 'GET',
    route: 'dataverse/tables',
    authLevel: 'function',
    summary: 'List Dataverse tables',
    description: 'Lists the tables of the Dataverse environment from its metadata, as the signed-in user.',
    visibility: 'advanced',
    parameters: [],
    responses: dataverseResponses({
      '200': ok('The tables, sorted by logical name.', ref('DataverseTableList')),
    }),
  },
  listDataverseColumns: {
    operationId: 'ListDataverseColumns',
    method: 'GET',
    route: 'dataverse/tables/{table}/columns',
    authLevel: 'function',
    summary: 'List columns of a Dataverse table',
    description: 'Lists the columns of a table with their types, lookup targets and choice options.',
    visibility: 'advanced',
    parameters: [DATAVERSE_TABLE],
    responses: dataverseResponses({
      '200': ok('The columns, sorted by logical name.', ref('DataverseColumnList')),
      '404': problem('There is no table with this logical name.'),
    }),
  },
  getDataverseTableSchema: {
    operationId: 'GetDataverseTableSchema',
    method: 'GET',
    route: 'dataverse/tables/{table}/schema',
    authLevel: 'function',
    summary: 'Get the row schema of a Dataverse table',
    description: 'Returns the JSON schema of the rows of a table, which types row fields in the designer.',
    visibility: 'internal',
    parameters: [
      DATAVERSE_TABLE,
      {
        ...queryParameter(
          'purpose',
          'Purpose',
          'read, create or update: which columns the schema holds; event: the row an event of the trigger carries.',
          'internal',
          { enum: ['read', 'create', 'update', 'event'], default: 'read' },
        ),
      },
    ],
    responses: dataverseResponses({
      '200': ok('The schema, in the schema property.', ref('DataverseRowSchema')),
      '404': problem('There is no table with this logical name.'),
    }),
  },
  listDataverseRows: {
    operationId: 'ListDataverseRows',
    method: 'GET',
    route: 'dataverse/tables/{table}/rows',
    authLevel: 'function',
    summary: 'List rows of a Dataverse table',
    description: 'Lists the rows of a table you may read, with an OData filter, ordering and paging.',
    visibility: 'important',
    parameters: [
      DATAVERSE_TABLE,
      queryParameter(
        'select',
        'Select Columns',
        'Column logical names separated by commas, e.g. name,revenue.',
        'important',
      ),
      queryParameter(
        'filter',
        'Filter Rows',
        "An OData filter, e.g. statecode eq 0 and contains(name,'Contoso').",
        'important',
      ),
      queryParameter(
        'orderby',
        'Sort By',
        'Columns to sort by, separated by commas, e.g. name asc,createdon desc.',
        'advanced',
      ),
      { ...TOP, description: 'How many rows per page, from 1 to 1000.' },
      queryParameter(
        'count',
        'Include Count',
        'true to return the number of matching rows (up to 5,000).',
        'advanced',
        {
          type: 'boolean',
        },
      ),
      CONTINUATION,
    ],
    pageable: true,
    responses: dataverseResponses({
      '200': ok('A page of rows.', ref('DataverseRowPage')),
      '400': problem('A parameter is not valid, or Dataverse refused the filter; the error quotes Dataverse.'),
      '404': problem('There is no table with this logical name.'),
    }),
  },
  createDataverseRow: {
    operationId: 'CreateDataverseRow',
    method: 'POST',
    route: 'dataverse/tables/{table}/rows',
    authLevel: 'function',
    summary: 'Add a row to a Dataverse table',
    description: 'Creates a row in a table as the signed-in user and returns its id.',
    visibility: 'important',
    parameters: [DATAVERSE_TABLE],
    body: {
      definition: 'DataverseRowInput',
      checkedByHandler: true,
      summary: 'Row',
      description: 'The column values of the new row, by logical name.',
      maxBytes: DEFAULT_MAX_BODY_BYTES,
    },
    responses: dataverseResponses({
      '201': {
        description: 'The row was created.',
        schema: ref('DataverseRowId'),
        headers: { Location: { type: 'string', description: 'The path that gets the new row.' } },
      },
      '400': problem('A column is unknown, read-only or of the wrong type; the error names it.'),
      '404': problem('There is no table with this logical name.'),
      '413': TOO_LARGE,
      '415': NOT_JSON,
    }),
  },
  getDataverseRow: {
    operationId: 'GetDataverseRow',
    method: 'GET',
    route: 'dataverse/tables/{table}/rows/{id}',
    authLevel: 'function',
    summary: 'Get a row of a Dataverse table',
    description: 'Gets the current column values of a row from Dataverse, as the signed-in user.',
    visibility: 'important',
    parameters: [
      DATAVERSE_TABLE,
      ROW_ID,
      queryParameter(
        'select',
        'Select Columns',
        'Column logical names separated by commas, e.g. name,revenue.',
        'advanced',
      ),
    ],
    responses: dataverseResponses({
      '200': ok('The row.', ref('DataverseRowOutput')),
      '404': problem('There is no such table, or no row with this id.'),
    }),
  },
  updateDataverseRow: {
    operationId: 'UpdateDataverseRow',
    method: 'PATCH',
    route: 'dataverse/tables/{table}/rows/{id}',
    authLevel: 'function',
    summary: 'Update a row of a Dataverse table',
    description: 'Changes the given columns of an existing row; with an ETag, only if nobody changed it since.',
    visibility: 'important',
    parameters: [
      DATAVERSE_TABLE,
      ROW_ID,
      {
        name: 'If-Match',
        in: 'header',
        required: false,
        type: 'string',
        description: 'The etag of the row as you read it; the update fails with 412 if the row changed since.',
        'x-ms-summary': 'Row ETag',
        'x-ms-visibility': 'advanced',
      },
    ],
    body: {
      definition: 'DataverseRowUpdate',
      checkedByHandler: true,
      summary: 'Row',
      description: 'The column values to change, by logical name.',
      maxBytes: DEFAULT_MAX_BODY_BYTES,
    },
    responses: dataverseResponses({
      '200': ok('The row was updated.', ref('DataverseRowId')),
      '400': problem('A column is unknown, read-only or of the wrong type; the error names it.'),
      '404': problem('There is no such table, or no row with this id.'),
      '412': problem('The row changed since the etag given in If-Match was read.'),
      '413': TOO_LARGE,
      '415': NOT_JSON,
    }),
  },
  deleteDataverseRow: {
    operationId: 'DeleteDataverseRow',
    method: 'DELETE',
    route: 'dataverse/tables/{table}/rows/{id}',
    authLevel: 'function',
    summary: 'Delete a row of a Dataverse table',
    description: 'Deletes a row from a table as the signed-in user.',
    visibility: 'important',
    parameters: [DATAVERSE_TABLE, ROW_ID],
    responses: dataverseResponses({
      '200': ok('The row was deleted.', ref('DataverseRowDeleted')),
      '404': problem('There is no such table, or no row with this id.'),
    }),
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
