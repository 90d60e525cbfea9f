/**
 * The JSON shapes of the connector, as Swagger 2.0 schemas (the draft-4 subset Power Platform reads: no `nullable`,
 * no `oneOf`; `x-nullable: true` marks a field that can be null, which is what the connector designer understands).
 * Every property carries a `description` and an `x-ms-summary`: the summary is what a maker sees as the name of a
 * dynamic-content token or a field, the description is its tooltip.
 *
 * These are the shapes the handlers answer with (`TableInfo`, `ChangeRecord`, `RowSnapshot` in
 * `shared/changes/types.ts`, `JobView` in `jobs.ts`, `Subscription` in `shared/subscriptions/types.ts`…); the tests
 * check them field by field against those types and validate real outputs against them.
 */

import { LOGICAL_NAME_PATTERN as LOGICAL_NAME, MESSAGE_NAME_PATTERN as MESSAGE_NAME } from '../dataverse/names.js';
import { JOB_STATUSES } from '../pipeline/jobs.js';
import { eventTargetSchema } from './eventSchema.js';

/** How prominently the connector designer shows an operation, a parameter or a field. */
export type Visibility = 'important' | 'advanced' | 'internal';

/** A dropdown filled by another operation of the connector. */
export interface DynamicValues {
  operationId: string;
  'value-collection': string;
  'value-path': string;
  'value-title': string;
}

/**
 * A schema (or a body parameter) the designer asks another operation for, once the parameters it names are chosen:
 * both the older `x-ms-dynamic-schema` and the newer `x-ms-dynamic-properties`, as "Use dynamic values" and "Dynamic
 * schema" of the custom connector docs recommend for designers of either age.
 */
export interface DynamicSchema {
  operationId: string;
  parameters: Record<string, { parameter: string } | { value: string }>;
  'value-path': string;
}
export interface DynamicProperties {
  operationId: string;
  parameters: Record<string, { parameterReference: string } | { value: string }>;
  itemValuePath: string;
}

/** A Swagger 2.0 schema object, limited to the keywords the connector uses. */
export interface Schema {
  $ref?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  pattern?: string;
  enum?: readonly (string | number | boolean)[];
  default?: string | number | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean | Schema;
  description?: string;
  'x-ms-summary'?: string;
  'x-ms-visibility'?: Visibility;
  'x-nullable'?: boolean;
  'x-ms-notification-url'?: boolean;
  'x-ms-dynamic-values'?: DynamicValues;
  'x-ms-dynamic-schema'?: DynamicSchema;
  'x-ms-dynamic-properties'?: DynamicProperties;
  /** Labels of an `enum`'s values, for the designer's dropdown. */
  'x-ms-enum-values'?: readonly { value: string | number; displayName: string }[];
}

/** The name of a shape in {@link definitions}. */
export type DefinitionName =
  | 'Health'
  | 'Check'
  | 'TableInfo'
  | 'TableList'
  | 'ChangeRecord'
  | 'ChangePage'
  | 'RowSnapshot'
  | 'Job'
  | 'JobError'
  | 'JobPage'
  | 'PublishEventRequest'
  | 'PublishResult'
  | 'ReplayResult'
  | 'SubscriptionRequest'
  | 'SubscriptionView'
  | 'SubscriptionCreated'
  | 'SubscriptionList'
  | 'DeliveryError'
  | 'DeleteResult'
  | 'Error'
  | 'DataverseContext'
  | 'DataverseTable'
  | 'DataverseTableList'
  | 'DataverseChoiceOption'
  | 'DataverseColumn'
  | 'DataverseColumnList'
  | 'DataverseRowSchema'
  | 'DataverseRowInput'
  | 'DataverseRowUpdate'
  | 'DataverseRowOutput'
  | 'DataverseRowPage'
  | 'DataverseRowId'
  | 'DataverseRowDeleted';

/** `{ "$ref": "#/definitions/<name>" }`. */
export function ref(name: DefinitionName): Schema {
  return { $ref: `#/definitions/${name}` };
}

/** The dropdown of tables seen so far, fed by `ListTables` (`GET /api/tables`). */
export const TABLE_DROPDOWN: DynamicValues = {
  operationId: 'ListTables',
  'value-collection': 'value',
  'value-path': 'name',
  'value-title': 'name',
};

/** The dropdown of the environment's tables, from metadata, fed by `ListDataverseTables`. */
export const DATAVERSE_TABLE_DROPDOWN: DynamicValues = {
  operationId: 'ListDataverseTables',
  'value-collection': 'value',
  'value-path': 'logicalName',
  'value-title': 'displayName',
};

/** What `GetDataverseTableSchema` can describe. */
export type RowSchemaPurpose = 'read' | 'create' | 'update';

/** A row typed per table by `GetDataverseTableSchema` (its `schema` property) for the chosen `table`. */
export function dynamicRow(purpose: RowSchemaPurpose, description: string): Schema {
  return {
    type: 'object',
    description,
    'x-ms-dynamic-schema': {
      operationId: 'GetDataverseTableSchema',
      parameters: { table: { parameter: 'table' }, purpose: { value: purpose } },
      'value-path': 'schema',
    },
    'x-ms-dynamic-properties': {
      operationId: 'GetDataverseTableSchema',
      parameters: { table: { parameterReference: 'table' }, purpose: { value: purpose } },
      itemValuePath: 'schema',
    },
  };
}

type Extra = Omit<Schema, 'type' | 'description' | 'x-ms-summary'>;

function field(type: NonNullable<Schema['type']>, summary: string, description: string, extra: Extra = {}): Schema {
  // A stable, readable key order: the JSON Schema keywords, then the label, then the Power Platform extensions.
  const {
    format,
    'x-nullable': nullable,
    'x-ms-visibility': visibility,
    'x-ms-notification-url': notificationUrl,
    'x-ms-dynamic-values': dynamicValues,
    ...rest
  } = extra;
  return {
    type,
    ...(format === undefined ? {} : { format }),
    ...rest,
    description,
    'x-ms-summary': summary,
    ...(nullable === undefined ? {} : { 'x-nullable': nullable }),
    ...(visibility === undefined ? {} : { 'x-ms-visibility': visibility }),
    ...(notificationUrl === undefined ? {} : { 'x-ms-notification-url': notificationUrl }),
    ...(dynamicValues === undefined ? {} : { 'x-ms-dynamic-values': dynamicValues }),
  };
}

const string = (summary: string, description: string, extra?: Extra) => field('string', summary, description, extra);
const integer = (summary: string, description: string, extra?: Extra) =>
  field('integer', summary, description, { format: 'int32', ...extra });
const boolean = (summary: string, description: string, extra?: Extra) => field('boolean', summary, description, extra);
const dateTime = (summary: string, description: string, extra?: Extra) =>
  field('string', summary, description, { format: 'date-time', ...extra });
const object = (summary: string, description: string, extra?: Extra) => field('object', summary, description, extra);
const strings = (summary: string, description: string, itemSummary: string, itemDescription: string) =>
  field('array', summary, description, { items: string(itemSummary, itemDescription) });
const nullable: Extra = { 'x-nullable': true };

/** What the pattern of a table logical name and of a message name accept (the same as `POST /api/events`). */

const CHECK: Schema = {
  type: 'object',
  required: ['status', 'durationMs'],
  properties: {
    status: string('Check Status', 'ok, failed, or local (the local host delivers events in-process).', {
      enum: ['ok', 'failed', 'local'],
    }),
    durationMs: integer('Duration (ms)', 'How long the check took, in milliseconds.'),
    message: string(
      'Check Message',
      'Why the check failed, naming the dependency (never a secret); for Dataverse, also the system jobs that failed.',
    ),
    failedSystemJobsLastHour: integer(
      'Failed System Jobs (Last Hour)',
      'Dataverse only: system jobs of the bridge steps that failed in the last hour (posts Dataverse could not make).',
    ),
  },
};

const HEALTH: Schema = {
  type: 'object',
  required: ['status', 'version', 'checks'],
  properties: {
    status: string('Health Status', 'healthy when every check passed, else unhealthy.', {
      enum: ['healthy', 'unhealthy'],
    }),
    version: string('Version', 'The version of the Dataverse Bridge app that answered.'),
    checks: {
      type: 'object',
      required: ['storage', 'eventGrid'],
      properties: { storage: ref('Check'), eventGrid: ref('Check'), dataverse: ref('Check') },
      description: 'The result of each dependency check (dataverse only when DATAVERSE_URL is set).',
      'x-ms-summary': 'Checks',
    },
    reconciliation: {
      type: 'object',
      required: ['status', 'startedAt', 'durationMs', 'rowsChecked', 'gapsFound', 'gapsRepaired', 'tables'],
      properties: {
        status: string('Reconciliation Status', 'succeeded, or failed when some table could not be reconciled.', {
          enum: ['succeeded', 'failed'],
        }),
        startedAt: dateTime('Reconciliation Started At', 'When the last reconciliation run started (UTC).'),
        durationMs: integer('Reconciliation Duration (ms)', 'How long the run took, in milliseconds.'),
        rowsChecked: integer('Rows Checked', 'Rows change tracking returned that the run compared with the bridge.'),
        gapsFound: integer('Gaps Found', 'Rows the bridge had missed (changed, created or deleted).'),
        gapsRepaired: integer('Gaps Repaired', 'Missed changes now published, marked bridgeorigin: reconciliation.'),
        tables: {
          type: 'array',
          items: {
            type: 'object',
            required: ['table', 'pass', 'rowsChecked', 'gapsFound', 'gapsRepaired'],
            properties: {
              table: string('Reconciled Table', 'The logical name of the table.'),
              pass: string('Pass', 'delta (changes since the last run) or full (every row).', {
                enum: ['delta', 'full'],
              }),
              reason: string('Full Pass Reason', 'Why a full pass: first run, or delta token expired.'),
              rowsChecked: integer('Table Rows Checked', 'Rows of this table compared.'),
              gapsFound: integer('Table Gaps Found', 'Gaps found in this table.'),
              gapsRepaired: integer('Table Gaps Repaired', 'Gaps of this table now published.'),
              errorCode: string('Error Code', 'Why the table could not be reconciled (details in the log).'),
            },
          },
          description: 'Each table of the run.',
          'x-ms-summary': 'Tables',
        },
      },
      description: 'The last reconciliation run (BRIDGE_RECONCILE_TABLES), when there was one.',
      'x-ms-summary': 'Last Reconciliation',
    },
  },
};

const TABLE_INFO: Schema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: string('Table Name', 'The logical name of the table, e.g. account.'),
    displayName: string('Table Display Name', 'The name makers see, when Dataverse is configured (DATAVERSE_URL).'),
    lastSeenAt: dateTime('Last Seen At', 'When an event for the table was last recorded (UTC); absent if none yet.'),
  },
};

const CHANGE_RECORD: Schema = {
  type: 'object',
  required: [
    'eventId',
    'type',
    'message',
    'table',
    'rowId',
    'time',
    'changedAttributes',
    'attributes',
    'userId',
    'initiatingUserId',
    'operationId',
    'correlationId',
    'organizationId',
    'source',
  ],
  properties: {
    eventId: string('Event ID', 'The id of the event (CloudEvents id), the same for every copy of it.'),
    type: string('Event Type', 'The event type: the message in lower case after dataverse., e.g. dataverse.update.'),
    message: string('Message Name', 'The Dataverse message, e.g. Create, Update, Delete or a custom API name.'),
    table: string('Table', 'The logical name of the table, e.g. account.'),
    rowId: string('Row ID', 'The id of the row the event is about.'),
    time: dateTime('Time', 'When Dataverse performed the operation (UTC).'),
    changedAttributes: strings(
      'Changed Columns',
      'For Update: the logical names of the columns the caller set. Empty for other messages.',
      'Changed Column',
      'The logical name of a column the caller set.',
    ),
    attributes: object('Column Values', 'The column values the event carried, by logical name; empty for Delete.'),
    attributesTruncated: boolean(
      'Column Values Left Out',
      'True when the column values were too large to keep in the change log; the published event still has them.',
    ),
    previousValues: object(
      'Previous Values',
      'For Update, when known: the value each sent column had before, by logical name (absent when not enriched).',
    ),
    valueChangedAttributes: strings(
      'Columns With New Values',
      'For Update: the sent columns whose value really changed (absent when not enriched).',
      'Column With New Value',
      'The logical name of a column whose value changed.',
    ),
    unknownPreviousAttributes: strings(
      'Columns With Unknown Previous Values',
      'For Update: the sent columns whose previous value is unknown, so they may have changed (absent when not enriched).',
      'Column With Unknown Previous Value',
      'The logical name of a column whose previous value is unknown.',
    ),
    userId: string('User ID', 'The id of the user the operation ran as, if known.', nullable),
    initiatingUserId: string('Initiating User ID', 'The id of the user who started the operation, if known.', nullable),
    operationId: string('Operation ID', 'The Dataverse system job id of the operation, if any.', nullable),
    correlationId: string('Correlation ID', 'The Dataverse correlation id of the request, if any.', nullable),
    organizationId: string('Organization ID', 'The id of the Dataverse organization (environment).'),
    source: string('Event Source', 'The organization the event came from: its URL, or /organizations/ and its id.'),
  },
};

const ROW_SNAPSHOT: Schema = {
  type: 'object',
  required: ['table', 'id', 'deleted', 'attributes', 'formattedValues', 'updatedAt', 'lastEventId', 'lastMessage'],
  properties: {
    table: string('Table', 'The logical name of the table, e.g. account.'),
    id: string('Row ID', 'The id of the row.'),
    deleted: boolean('Deleted', 'True when the newest event for the row was a Delete; then the columns are empty.'),
    attributes: object('Column Values', "Each column's newest known value, by logical name."),
    formattedValues: object(
      'Formatted Values',
      "Each column's newest known formatted value (choice labels, lookup names, money with currency).",
    ),
    updatedAt: dateTime('Updated At', 'The time of the newest event merged into this snapshot (UTC).'),
    lastEventId: string('Last Event ID', 'The id of the newest event merged into this snapshot.'),
    lastMessage: string('Last Message', 'The Dataverse message of the newest event, e.g. Update.'),
  },
};

const JOB_ERROR: Schema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: string('Error Code', 'What went wrong, as a PascalCase code, e.g. NotJson.'),
    message: string('Error Message', 'What was wrong, where, and what to change.'),
    path: string('Error Path', 'Where in the message the problem is, when it is about one field.'),
  },
};

const JOB: Schema = {
  type: 'object',
  required: ['id', 'status', 'attempts', 'receivedAt', 'updatedAt', 'source'],
  properties: {
    id: string('Job ID', 'The job id: 32 hexadecimal characters, the same for every delivery of one message.'),
    status: string(
      'Job Status',
      'received (in progress), published, rejected (bad input), failed (will retry), held (a synchronous post waiting for its operation to commit) or rolledBack (it never committed: nothing published).',
      { enum: [...JOB_STATUSES] },
    ),
    attempts: integer('Attempts', 'How many deliveries of the message reached the pipeline, retries included.'),
    receivedAt: dateTime('Received At', 'When the message first arrived (UTC).'),
    updatedAt: dateTime('Updated At', 'When the job last changed (UTC).'),
    publishedAt: dateTime('Published At', 'When the event was published (UTC).'),
    verifiedAt: dateTime('Verified At', 'A held job: when Dataverse showed its operation committed (UTC).'),
    source: string(
      'Job Source',
      'Where the message came in: queue, topic, webhook, api (PublishEvent) or reconciliation.',
      {
        enum: ['queue', 'topic', 'webhook', 'api', 'reconciliation'],
      },
    ),
    messageId: string('Message ID', 'The Service Bus message id, for messages that came from Service Bus.'),
    deliveryCount: integer('Delivery Count', 'How many times Service Bus delivered the message.'),
    table: string('Table', 'The logical name of the table, when the message could be read.'),
    message: string('Message Name', 'The Dataverse message, when the message could be read.'),
    rowId: string('Row ID', 'The id of the row, when the message could be read.'),
    operationId: string('Operation ID', 'The Dataverse system job id of the operation.'),
    organizationId: string('Organization ID', 'The id of the Dataverse organization (environment).'),
    eventId: string('Event ID', 'The id of the event published (or to be published) for this job.'),
    error: ref('JobError'),
    raw: {
      type: 'object',
      required: ['size', 'sha256'],
      properties: {
        size: integer('Body Size', 'The size of the kept message body, in bytes.'),
        sha256: string('Body SHA-256', 'The SHA-256 of the kept message body, in hexadecimal.'),
        contentType: string('Body Content Type', 'The content type the message body arrived with.'),
      },
      description: 'The message body kept for replay (rejected, failed, held and rolled-back jobs).',
      'x-ms-summary': 'Kept Body',
    },
    replayedAs: string('Replayed As', 'The id of the job a replay of this rejected message became, if any.'),
  },
};

const PUBLISH_EVENT_REQUEST: Schema = {
  type: 'object',
  required: ['table', 'rowId', 'message'],
  additionalProperties: false,
  properties: {
    table: string('Table', 'The logical name of the table the event is about (letters, digits, _), e.g. account.', {
      pattern: LOGICAL_NAME,
      'x-ms-visibility': 'important',
      'x-ms-dynamic-values': TABLE_DROPDOWN,
    }),
    rowId: string('Row ID', 'The id (a GUID) of the row the event is about.', {
      format: 'uuid',
      'x-ms-visibility': 'important',
    }),
    message: string('Message Name', 'The message the event reports, e.g. Update or the name of a custom API.', {
      pattern: MESSAGE_NAME,
      'x-ms-visibility': 'important',
    }),
    attributes: object(
      'Column Values',
      'Column values to carry, by logical name: strings, numbers, booleans or null.',
      { 'x-ms-visibility': 'advanced' },
    ),
    idempotencyKey: string(
      'Idempotency Key',
      'Any text: calls with the same key, table, row and message publish one event.',
      { minLength: 1, maxLength: 128, 'x-ms-visibility': 'advanced' },
    ),
  },
};

const PUBLISH_RESULT: Schema = {
  type: 'object',
  required: ['jobId', 'eventId', 'status'],
  properties: {
    jobId: string('Job ID', 'The job that records the event; look it up with Get a job.'),
    eventId: string('Event ID', 'The id of the published event.'),
    status: string('Publish Status', 'published, or duplicate when the same event was published before.', {
      enum: ['published', 'duplicate'],
    }),
  },
};

const REPLAY_RESULT: Schema = {
  type: 'object',
  required: ['jobId', 'status'],
  properties: {
    jobId: string('Job ID', 'The job the replayed message ended in (a new one when it can now be read).'),
    status: string(
      'Replay Status',
      'published, duplicate, rejected, failed, busy (being processed right now), held (a synchronous post waiting for its check) or rolledBack.',
      { enum: ['published', 'duplicate', 'rejected', 'failed', 'busy', 'held', 'rolledBack'] },
    ),
    eventId: string('Event ID', 'The id of the event, when the message was read.'),
    error: ref('JobError'),
  },
};

const SUBSCRIPTION_REQUEST: Schema = {
  type: 'object',
  required: ['callbackUrl'],
  additionalProperties: false,
  properties: {
    callbackUrl: string('Callback URL', 'Where matching events are posted; filled in by the flow.', {
      format: 'uri',
      maxLength: 2048,
      'x-ms-visibility': 'internal',
      'x-ms-notification-url': true,
    }),
    table: string('Table', 'Only events about this table (a logical name). Leave empty for every table.', {
      pattern: '^[A-Za-z0-9_]{0,128}$',
      'x-ms-visibility': 'important',
      'x-ms-dynamic-values': TABLE_DROPDOWN,
    }),
    messages: string('Messages', 'Only these messages, separated by commas, e.g. Create,Update. Empty for all.', {
      maxLength: 4096,
      'x-ms-visibility': 'important',
    }),
    columns: string('Columns', 'Updates only when one of these columns changed, separated by commas.', {
      maxLength: 4096,
      'x-ms-visibility': 'advanced',
    }),
    onlyWhenValuesChange: boolean(
      'Only When Values Change',
      'With Columns: only when one of their values really changed, not when it was merely sent again (a column ' +
        'whose previous value is unknown counts as changed). Needs DATAVERSE_URL on the bridge.',
      { 'x-ms-visibility': 'advanced' },
    ),
    secret: string(
      'Signing Secret',
      'The key that signs each delivery, 16 to 256 characters; generated when left out or empty.',
      {
        pattern: '^(?:[\\s\\S]{16,256})?$',
        'x-ms-visibility': 'advanced',
      },
    ),
  },
};

const DELIVERY_ERROR: Schema = {
  type: 'object',
  required: ['code', 'message', 'at', 'eventId'],
  properties: {
    code: string('Delivery Error Code', 'HttpStatus, Timeout, NetworkError or RefusedAddress.'),
    message: string('Delivery Error Message', 'What went wrong with the delivery.'),
    status: integer('Callback Status', 'The HTTP status the callback answered, when it answered.'),
    at: dateTime('Failed At', 'When the delivery failed (UTC).'),
    eventId: string('Failed Event ID', 'The id of the event that could not be delivered.'),
  },
};

const SUBSCRIPTION_VIEW_PROPERTIES: Record<string, Schema> = {
  id: string('Subscription ID', 'The subscription id: 32 hexadecimal characters.'),
  callbackUrl: string('Callback URL', 'Where matching events are posted (origin and path only; the query is hidden).', {
    format: 'uri',
  }),
  tables: strings(
    'Tables',
    'The tables the subscription receives events for; empty means every table.',
    'Table',
    'A table logical name.',
  ),
  messages: strings(
    'Messages',
    'The messages the subscription receives; empty means every message.',
    'Message',
    'A Dataverse message name.',
  ),
  columns: strings(
    'Columns',
    'For Update: only when one of these columns changed; empty means any change.',
    'Column',
    'A column logical name.',
  ),
  onlyWhenValuesChange: boolean(
    'Only When Values Change',
    'True when an Update matches only if one of the columns really changed value (or its previous value is unknown).',
  ),
  createdAt: dateTime('Created At', 'When the subscription was created (UTC).'),
  health: string('Subscription Health', 'unhealthy after several deliveries in a row failed, else healthy.', {
    enum: ['healthy', 'unhealthy'],
  }),
  consecutiveFailures: integer('Consecutive Failures', 'Failed deliveries since the last successful one.'),
  lastError: ref('DeliveryError'),
  lastDeliveredAt: dateTime('Last Delivered At', 'When an event was last delivered successfully (UTC).'),
};
const SUBSCRIPTION_VIEW_REQUIRED = [
  'id',
  'callbackUrl',
  'tables',
  'messages',
  'columns',
  'onlyWhenValuesChange',
  'createdAt',
  'health',
  'consecutiveFailures',
];

const SUBSCRIPTION_VIEW: Schema = {
  type: 'object',
  required: SUBSCRIPTION_VIEW_REQUIRED,
  properties: SUBSCRIPTION_VIEW_PROPERTIES,
};

/** The 201 of the trigger: the view plus, this once, the signing secret. */
const SUBSCRIPTION_CREATED: Schema = {
  type: 'object',
  required: [...SUBSCRIPTION_VIEW_REQUIRED, 'secret'],
  properties: {
    ...SUBSCRIPTION_VIEW_PROPERTIES,
    secret: string('Signing Secret', 'The HMAC-SHA256 key of the X-Bridge-Signature-256 header; shown only once.'),
  },
};

const DELETE_RESULT: Schema = {
  type: 'object',
  required: ['id', 'deleted'],
  properties: {
    id: string('Subscription ID', 'The id of the subscription that was deleted.'),
    deleted: boolean('Deleted', 'Always true: the subscription is gone.'),
  },
};

const ERROR: Schema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: string('Error Code', 'What went wrong, as a PascalCase code, e.g. InvalidParameter or NotFound.'),
        message: string('Error Message', 'What was wrong, where, and what to change.'),
        target: string('Error Target', 'The parameter or body field the error is about, e.g. top or table.'),
      },
      description: 'The error.',
      'x-ms-summary': 'Error',
    },
  },
};

const entityReference = (summary: string, description: string): Schema => ({
  type: 'object',
  properties: {
    logicalName: string('Extension Table', 'The logical name of the table of the referenced row.'),
    id: string('Extension ID', 'The id of the referenced row.'),
    name: string('Extension Name', 'The primary name of the referenced row, if Dataverse sent it.', nullable),
  },
  description,
  'x-ms-summary': summary,
  'x-nullable': true,
});

/** `data.$bridge`: what the bridge added, not Dataverse (`shared/events/bridgeSection.ts`); absent when nothing was. */
const BRIDGE_ADDITIONS: Schema = {
  type: 'object',
  properties: {
    fetchedRow: {
      type: 'object',
      properties: {
        fetchedAt: dateTime(
          'Row Fetched At',
          'When the bridge read the row from Dataverse (UTC), after the operation.',
        ),
        table: string('Fetched Row Table', 'The logical name of the table of the fetched row.'),
        id: string('Fetched Row ID', 'The id of the fetched row.'),
        found: boolean('Fetched Row Found', 'False when the row no longer existed when the bridge read it.'),
        etag: string('Fetched Row ETag', 'The version of the fetched row.'),
        attributes: object(
          'Fetched Column Values',
          'The row as read: lookups { id, table, name }, choices { value, label }.',
        ),
        formattedValues: object('Fetched Formatted Values', 'Formatted text of the other columns (money, dates).'),
      },
      description: 'For a message too large for Dataverse to send whole: the row, read by the bridge afterwards.',
      'x-ms-summary': 'Fetched Row',
    },
    previousValues: object('Previous Values', 'For Update, when known: the value each sent column had before.'),
    previousValueSources: object(
      'Previous Value Sources',
      'Where each previous value came from: preImage or snapshot.',
    ),
    valueChangedAttributes: strings(
      'Columns With New Values',
      'For Update: the sent columns whose value really changed.',
      'Column With New Value',
      'The logical name of a column whose value changed.',
    ),
    unknownPreviousAttributes: strings(
      'Columns With Unknown Previous Values',
      'For Update: the sent columns whose previous value is unknown, so they may have changed.',
      'Column With Unknown Previous Value',
      'The logical name of a column whose previous value is unknown.',
    ),
    omitted: strings(
      'Omitted Values',
      'Values left out so the event fits 1 MB, as paths such as fetchedRow.attributes.description.',
      'Omitted Value',
      'The path of a value left out.',
    ),
  },
  description: 'What the bridge added to the event (with DATAVERSE_URL set), not what Dataverse sent.',
  'x-ms-summary': 'Bridge Additions',
};

/**
 * The row of a delivered event, `inputParameters.Target`, typed per table (`eventSchema.ts`): once the trigger's *Table*
 * is chosen, the designer asks `GetDataverseTableSchema` (purpose `event`) for its columns. The table is a property of
 * the trigger's body, so the older extension names it as is and the newer one as `body/table`, as certified webhook
 * triggers type their notification content (e.g. Asite's `resourceId`, Formstack's `body/form_id`).
 */
const EVENT_TARGET: Schema = {
  ...eventTargetSchema(),
  'x-ms-dynamic-schema': {
    operationId: 'GetDataverseTableSchema',
    parameters: { table: { parameter: 'table' }, purpose: { value: 'event' } },
    'value-path': 'schema',
  },
  'x-ms-dynamic-properties': {
    operationId: 'GetDataverseTableSchema',
    parameters: { table: { parameterReference: 'body/table' }, purpose: { value: 'event' } },
    itemValuePath: 'schema',
  },
};

/** The delivered payload: the normalized context (`NormalizedContext`; DESIGN.md "The normalized context"). */
const DATAVERSE_CONTEXT: Schema = {
  type: 'object',
  required: ['messageName', 'primaryEntityName', 'primaryEntityId', 'organizationId', 'changedAttributes'],
  properties: {
    messageName: string('Message Name', 'The Dataverse message, e.g. Create, Update, Delete or a custom API name.'),
    primaryEntityName: string('Table', 'The logical name of the table the operation is about, e.g. account.'),
    primaryEntityId: string('Row ID', 'The id of the row the operation is about.'),
    secondaryEntityName: string('Secondary Table', 'The second table of messages that have one, else none.', nullable),
    changedAttributes: strings(
      'Changed Columns',
      'For Update: the logical names of the columns the caller set. Empty for other messages.',
      'Changed Column',
      'The logical name of a column the caller set.',
    ),
    stage: integer('Stage', 'The pipeline stage: 10 pre-validation, 20 pre-operation, 40 post-operation.', nullable),
    mode: integer('Mode', 'How the step ran: 0 synchronous, 1 asynchronous.', nullable),
    depth: integer('Depth', 'How deep in a chain of plug-ins and flows the operation ran (1 at the top).', nullable),
    isolationMode: integer('Isolation Mode', 'The isolation mode of the step that produced the context.', nullable),
    operationId: string('Operation ID', 'The system job id, stable across Dataverse retries.', nullable),
    operationCreatedOn: dateTime('Operation Time', 'When Dataverse performed the operation (UTC).', nullable),
    requestId: string('Request ID', 'The id of the Dataverse request.', nullable),
    correlationId: string('Correlation ID', 'The Dataverse correlation id, shared by related operations.', nullable),
    organizationId: string('Organization ID', 'The id of the Dataverse organization (environment).'),
    organizationName: string('Organization Name', 'The unique name of the Dataverse organization.', nullable),
    organizationUrl: string('Organization URL', 'The URL of the environment, e.g. https://contoso.crm.dynamics.com.', {
      'x-nullable': true,
    }),
    businessUnitId: string('Business Unit ID', 'The id of the business unit of the user.', nullable),
    userId: string('User ID', 'The id of the user the operation ran as.', nullable),
    initiatingUserId: string('Initiating User ID', 'The id of the user who started the operation.', nullable),
    userAzureActiveDirectoryObjectId: string(
      'User Entra Object ID',
      'The Microsoft Entra object id of the user the operation ran as.',
      nullable,
    ),
    initiatingUserAzureActiveDirectoryObjectId: string(
      'Initiating User Entra Object ID',
      'The Microsoft Entra object id of the user who started the operation.',
      nullable,
    ),
    initiatingUserAgent: string('Initiating User Agent', 'The client that started the operation, if known.', nullable),
    isExecutingOffline: boolean('Executing Offline', 'Whether the operation ran offline.', nullable),
    isInTransaction: boolean('In Transaction', 'Whether the step ran inside the database transaction.', nullable),
    isOfflinePlayback: boolean('Offline Playback', 'Whether the operation replays offline changes.', nullable),
    owningExtension: entityReference('Owning Extension', 'The step or service endpoint that produced the context.'),
    inputParameters: {
      type: 'object',
      properties: { Target: EVENT_TARGET },
      description: 'The request parameters by name; Target holds the row with its column values.',
      'x-ms-summary': 'Input Parameters',
    },
    outputParameters: object('Output Parameters', 'The response parameters by name, e.g. id after a Create.'),
    sharedVariables: object('Shared Variables', 'Values plug-ins shared with later steps, by name.'),
    preEntityImages: object('Pre-Images', 'The rows as they were before the operation, by image name.'),
    postEntityImages: object('Post-Images', 'The rows as they are after the operation, by image name.'),
    parentContext: object('Parent Context', 'The context of the operation that caused this one, if any.', nullable),
    messageMaxSizeExceeded: boolean(
      'Message Too Large',
      'True when Dataverse left out the parameters and images because the message was too large.',
    ),
    $bridge: BRIDGE_ADDITIONS,
  },
};

const DATAVERSE_TABLE: Schema = {
  type: 'object',
  required: ['logicalName', 'displayName', 'entitySetName', 'primaryIdColumn', 'primaryNameColumn'],
  properties: {
    logicalName: string('Table Logical Name', 'The logical name of the table, e.g. account.'),
    displayName: string('Table Display Name', 'The name makers see, e.g. Account.'),
    entitySetName: string('Entity Set Name', 'The Web API collection name, e.g. accounts.'),
    primaryIdColumn: string('Primary ID Column', 'The column that holds the row id, e.g. accountid.'),
    primaryNameColumn: string('Primary Name Column', 'The column that names a row, e.g. name.'),
  },
};

const DATAVERSE_CHOICE_OPTION: Schema = {
  type: 'object',
  required: ['value', 'label'],
  properties: {
    value: integer('Option Value', 'The number Dataverse stores for the option.'),
    label: string('Option Label', 'The label makers see.'),
  },
};

const DATAVERSE_COLUMN: Schema = {
  type: 'object',
  required: ['logicalName', 'displayName', 'type', 'requiredLevel', 'validForCreate', 'validForUpdate'],
  properties: {
    logicalName: string('Column Logical Name', 'The logical name of the column, e.g. name.'),
    displayName: string('Column Display Name', 'The name makers see, e.g. Account Name.'),
    type: string('Column Type', 'The Dataverse attribute type, e.g. String, Money, Lookup or Picklist.'),
    requiredLevel: string('Required Level', 'None, Recommended, ApplicationRequired or SystemRequired.'),
    validForCreate: boolean('Valid For Create', 'Whether the column can be set when a row is created.'),
    validForUpdate: boolean('Valid For Update', 'Whether the column can be changed.'),
    targets: strings('Lookup Targets', 'For lookups: the tables it can point to.', 'Target', 'A table logical name.'),
    options: {
      type: 'array',
      items: ref('DataverseChoiceOption'),
      description: 'For choices: the options.',
      'x-ms-summary': 'Choice Options',
    },
  },
};

const list = (items: DefinitionName, summary: string, description: string, pageable: boolean): Schema => ({
  type: 'object',
  required: ['value'],
  properties: {
    value: { type: 'array', items: ref(items), description, 'x-ms-summary': summary },
    ...(pageable
      ? { nextLink: string('Next Link', 'The URL of the next page; absent on the last page.', { format: 'uri' }) }
      : {}),
  },
});

/**
 * Every shape, by definition name, in the order the definition lists them.
 *
 * @example
 * definitions.Job.properties?.status?.enum; // ['received', 'published', 'rejected', 'failed']
 */
export const definitions: Readonly<Record<DefinitionName, Schema>> = {
  Health: HEALTH,
  Check: CHECK,
  TableInfo: TABLE_INFO,
  TableList: list(
    'TableInfo',
    'Tables',
    "The environment's tables from metadata when Dataverse is configured, else the tables seen so far.",
    false,
  ),
  ChangeRecord: CHANGE_RECORD,
  ChangePage: list('ChangeRecord', 'Changes', 'The changes of the page, newest first.', true),
  RowSnapshot: ROW_SNAPSHOT,
  Job: JOB,
  JobError: JOB_ERROR,
  JobPage: list('Job', 'Jobs', 'The jobs of the page.', true),
  PublishEventRequest: PUBLISH_EVENT_REQUEST,
  PublishResult: PUBLISH_RESULT,
  ReplayResult: REPLAY_RESULT,
  SubscriptionRequest: SUBSCRIPTION_REQUEST,
  SubscriptionView: SUBSCRIPTION_VIEW,
  SubscriptionCreated: SUBSCRIPTION_CREATED,
  SubscriptionList: list('SubscriptionView', 'Subscriptions', 'Every subscription.', false),
  DeliveryError: DELIVERY_ERROR,
  DeleteResult: DELETE_RESULT,
  Error: ERROR,
  DataverseContext: DATAVERSE_CONTEXT,
  DataverseTable: DATAVERSE_TABLE,
  DataverseTableList: list('DataverseTable', 'Tables', 'The tables of the environment.', false),
  DataverseChoiceOption: DATAVERSE_CHOICE_OPTION,
  DataverseColumn: DATAVERSE_COLUMN,
  DataverseColumnList: list('DataverseColumn', 'Columns', 'The columns of the table.', false),
  DataverseRowSchema: {
    type: 'object',
    required: ['schema'],
    properties: {
      schema: object('Row Schema', 'The JSON schema of the rows of the table, with a property per column.'),
    },
  },
  DataverseRowInput: dynamicRow('create', 'The column values of the new row, by logical name.'),
  DataverseRowUpdate: dynamicRow('update', 'The column values to change, by logical name.'),
  DataverseRowOutput: dynamicRow('read', 'The row: id, etag, and its columns by logical name.'),
  DataverseRowPage: {
    type: 'object',
    required: ['value'],
    properties: {
      value: {
        type: 'array',
        items: ref('DataverseRowOutput'),
        description: 'The rows of the page.',
        'x-ms-summary': 'Rows',
      },
      count: integer('Row Count', 'How many rows match the filter (up to 5,000), when Include Count is true.'),
      nextLink: string('Next Link', 'The URL of the next page; absent on the last page.', { format: 'uri' }),
    },
  },
  DataverseRowId: {
    type: 'object',
    required: ['id'],
    properties: { id: string('Row ID', 'The id of the row.') },
  },
  DataverseRowDeleted: {
    type: 'object',
    required: ['id', 'deleted'],
    properties: {
      id: string('Row ID', 'The id of the row that was deleted.'),
      deleted: boolean('Deleted', 'Always true: the row is gone.'),
    },
  },
};

/**
 * The plain JSON Schema (draft-07, for ajv) of a definition: `$ref`s resolve against the same definitions, and
 * `x-nullable: true` becomes `null` being allowed, so a validator accepts exactly what the connector documents.
 *
 * @example
 * new Ajv().compile(jsonSchemaFor('ChangeRecord'))(record);
 */
export function jsonSchemaFor(name: DefinitionName): Record<string, unknown> {
  return validatorSchema({ $ref: `#/definitions/${name}` }, definitions);
}

/**
 * The same conversion for any schema of a Swagger 2.0 document, with that document's `definitions`: what a test uses
 * to validate a response against the definition a host actually served.
 *
 * @example
 * const served = await (await fetch(`${host}/api/openapi.json`)).json();
 * const schema = served.paths['/tables'].get.responses['200'].schema;
 * new Ajv().compile(validatorSchema(schema, served.definitions))(body);
 */
export function validatorSchema(
  schema: Schema,
  documentDefinitions: Readonly<Record<string, Schema>>,
): Record<string, unknown> {
  const all: Record<string, unknown> = {};
  for (const [key, definition] of Object.entries(documentDefinitions)) all[key] = toJsonSchema(definition);
  return { ...toJsonSchema(schema), definitions: all };
}

function toJsonSchema(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties') {
      const properties: Record<string, unknown> = {};
      for (const [name, property] of Object.entries(value as Record<string, Schema>))
        properties[name] = toJsonSchema(property);
      out.properties = properties;
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = toJsonSchema(value as Schema);
    } else {
      out[key] = value;
    }
  }
  if (schema['x-nullable'] === true && schema.type !== undefined) {
    out.type = [schema.type, 'null'];
    if (schema.enum) out.enum = [...schema.enum, null];
  }
  return out;
}
