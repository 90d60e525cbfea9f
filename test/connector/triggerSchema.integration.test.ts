/**
 * The webhook trigger's notification typed per table, end to end: the local host (the bundle, real HTTP) with the
 * Dataverse double as its environment, a flow's callback subscribed to one table, and a real webhook context of that
 * table (the reference sample `albxrm-webhook-create-shko_allfields.json`: text, whole and decimal numbers, money,
 * dates, yes/no, choices, a multi-select choice and lookups) posted to `dataverseWebhook`. What reaches the callback must
 * validate against the trigger's notification content with the schema `GetDataverseTableSchema?purpose=event` answers
 * put where the definition's dynamic schema points, with every delivered column typed (no column left to chance).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEventSchema } from '../../shared/connector/dataverseRows.js';
import { type Schema, validatorSchema } from '../../shared/connector/schemas.js';
import { type ColumnSeed, DataverseDouble } from '../doubles/dataverse.js';
import { CONTEXTS_DIR } from '../helpers/fixtures.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';

const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => void };
const SAMPLE = readFileSync(join(CONTEXTS_DIR, 'albxrm-webhook-create-shko_allfields.json'));
const TABLE = 'shko_allfields';

interface SwaggerDocument {
  paths: Record<string, Record<string, unknown>>;
  definitions: Record<string, Schema>;
}

let dataverse: DataverseDouble;
let host: RunningHost;
let callbacks: Server;
let callbackUrl: string;
let definition: SwaggerDocument;
const deliveries: Buffer[] = [];
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);

/** The sample's table as its columns are typed in Dataverse (system columns with their documented types). */
function seedAllFields(double: DataverseDouble): void {
  const column = (logicalName: string, type: ColumnSeed['type'], displayName: string): ColumnSeed => ({
    logicalName,
    type,
    displayName,
  });
  const lookup = (logicalName: string, displayName: string, targets: string[]): ColumnSeed => ({
    ...column(logicalName, 'Lookup', displayName),
    targets,
  });
  // Choices by option value and label.
  const choice = (name: string, type: ColumnSeed['type'], display: string, labels: [number, string][]): ColumnSeed => ({
    ...column(name, type, display),
    options: labels.map(([value, label]) => ({ value, label })),
  });
  double.seedTable({
    logicalName: TABLE,
    displayName: 'All Fields',
    primaryNameAttribute: 'shko_name',
    columns: [
      column('shko_name', 'String', 'Name'),
      column('shko_string', 'String', 'String'),
      column('shko_integer', 'Integer', 'Integer'),
      column('shko_decimal', 'Decimal', 'Decimal'),
      column('shko_currency', 'Money', 'Currency'),
      column('shko_currency_base', 'Money', 'Currency (Base)'),
      column('shko_datetime', 'DateTime', 'Date Time'),
      column('shko_boolean', 'Boolean', 'Boolean'),
      choice('shko_choice', 'Picklist', 'Choice', [
        [342490000, 'Zero'],
        [342490001, 'One'],
      ]),
      {
        ...choice('shko_choices', 'Virtual', 'Choices', [
          [342490001, 'One'],
          [342490002, 'Two'],
        ]),
        multiSelect: true,
      },
      lookup('shko_lookup', 'Lookup', ['systemuser']),
      { ...column('ownerid', 'Owner', 'Owner'), targets: ['systemuser', 'team'] },
      lookup('owningbusinessunit', 'Owning Business Unit', ['businessunit']),
      lookup('createdby', 'Created By', ['systemuser']),
      lookup('modifiedby', 'Modified By', ['systemuser']),
      lookup('modifiedonbehalfby', 'Modified By (Delegate)', ['systemuser']),
      lookup('transactioncurrencyid', 'Currency', ['transactioncurrency']),
      column('exchangerate', 'Decimal', 'Exchange Rate'),
      column('timezoneruleversionnumber', 'Integer', 'Time Zone Rule Version Number'),
      column('createdon', 'DateTime', 'Created On'),
      column('modifiedon', 'DateTime', 'Modified On'),
      choice('statecode', 'State', 'Status', [
        [0, 'Active'],
        [1, 'Inactive'],
      ]),
      choice('statuscode', 'Status', 'Status Reason', [
        [1, 'Active'],
        [2, 'Inactive'],
      ]),
    ],
  });
}

beforeAll(async () => {
  dataverse = new DataverseDouble();
  seedAllFields(dataverse);
  callbacks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push(Buffer.concat(chunks));
      res.writeHead(202).end();
    });
  });
  await Promise.all([dataverse.start(), new Promise<void>((done) => callbacks.listen(0, '127.0.0.1', done))]);
  callbackUrl = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/flow`;
  // No BRIDGE_AUTH_* and no BRIDGE_DATAVERSE_APP_OPERATIONS: the trigger works with the function key alone.
  // The sample is a synchronous step's context: published at once here (the hold has tests of its own, and the
  // double has no such row for a check to find).
  host = await startLocalHost({
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_RETRY_BUDGET_SECONDS: '0',
    BRIDGE_VERIFY_SYNC: 'false',
  });
  definition = (await (await host.request('/api/openapi.json')).json()) as SwaggerDocument;
}, 60_000);

afterAll(async () => {
  await host?.stop();
  callbacks?.closeAllConnections();
  await new Promise((done) => callbacks?.close(done));
  await dataverse?.stop();
});

/** The schema the designer gets for the trigger's event row, validated against what the definition declares for it. */
async function eventSchema(table: string): Promise<Schema> {
  const response = await host.request(`/api/dataverse/tables/${table}/schema?purpose=event`);
  expect(response.status).toBe(200);
  const body = (await response.json()) as { schema: Schema };
  const validate = ajv.compile(validatorSchema({ $ref: '#/definitions/DataverseRowSchema' }, definition.definitions));
  expect(validate(body), ajv.errorsText(validate.errors)).toBe(true);
  return body.schema;
}

/** The trigger's notification content with `typed` where its dynamic schema points (as the designer merges it). */
function notificationWith(typed: Schema): Schema {
  const context = structuredClone(definition.definitions.DataverseContext) as Schema;
  const inputParameters = context.properties?.inputParameters as Schema;
  inputParameters.properties = { ...inputParameters.properties, Target: typed };
  return context;
}

describe('the webhook trigger’s notification, typed with the chosen table’s columns', () => {
  it('points the delivered row (inputParameters.Target) at GetDataverseTableSchema, by the trigger’s table', () => {
    const target = definition.definitions.DataverseContext?.properties?.inputParameters?.properties?.Target as Schema;
    expect(target['x-ms-dynamic-schema']).toEqual({
      operationId: 'GetDataverseTableSchema',
      parameters: { table: { parameter: 'table' }, purpose: { value: 'event' } },
      'value-path': 'schema',
    });
    expect(target['x-ms-dynamic-properties']).toEqual({
      operationId: 'GetDataverseTableSchema',
      parameters: { table: { parameterReference: 'body/table' }, purpose: { value: 'event' } },
      itemValuePath: 'schema',
    });
    // What those references name exists: the trigger's body property, and the operation's parameters and values.
    const subscriptions = definition.paths['/subscriptions'] as Record<string, unknown>;
    expect((subscriptions['x-ms-notification-content'] as { schema: Schema }).schema.$ref).toBe(
      '#/definitions/DataverseContext',
    );
    expect(definition.definitions.SubscriptionRequest?.properties?.table).toBeDefined();
    const schemaOperation = definition.paths['/dataverse/tables/{table}/schema']?.get as {
      operationId: string;
      parameters: Array<{ name: string; enum?: string[] }>;
    };
    expect(schemaOperation.operationId).toBe('GetDataverseTableSchema');
    expect(schemaOperation.parameters.find((p) => p.name === 'purpose')?.enum).toContain('event');
    expect(schemaOperation.parameters.map((p) => p.name)).toContain('table');
  });

  it('delivers a context that validates against the notification typed for its table, every column typed', async () => {
    const subscribed = await host.request('/api/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callbackUrl, table: TABLE }),
    });
    expect(subscribed.status).toBe(201);
    const sent = await host.request('/api/dataverse/webhook', {
      method: 'POST',
      body: SAMPLE,
      headers: { 'content-type': 'application/json', 'x-ms-dynamics-entity-name': TABLE },
    });
    expect(sent.status).toBe(200);
    await expect.poll(() => deliveries.length, { timeout: 15_000 }).toBe(1);
    const delivered = JSON.parse((deliveries[0] as Buffer).toString('utf8'));
    expect(delivered.primaryEntityName).toBe(TABLE);

    const typed = await eventSchema(TABLE);
    const attributes = typed.properties?.attributes?.properties ?? {};
    // Each kind of column as the normalized format delivers it, labelled with its display name.
    expect({
      text: attributes.shko_string,
      integer: attributes.shko_integer?.type,
      decimal: attributes.shko_decimal?.type,
      money: attributes.shko_currency?.type,
      date: attributes.shko_datetime?.format,
      yesNo: attributes.shko_boolean?.type,
      choice: attributes.shko_choice?.type,
      choices: attributes.shko_choices?.items?.type,
      lookup: Object.keys(attributes.shko_lookup?.properties ?? {}),
      choiceLabel: typed.properties?.formattedValues?.properties?.shko_choice?.['x-ms-summary'],
    }).toEqual({
      text: {
        type: 'string',
        description: 'String (shko_string, String).',
        'x-ms-summary': 'String',
        'x-nullable': true,
      },
      integer: 'integer',
      decimal: 'number',
      money: 'number',
      date: 'date-time',
      yesNo: 'boolean',
      choice: 'integer',
      choices: 'integer',
      lookup: ['logicalName', 'id', 'name', 'keyAttributes'],
      choiceLabel: 'Choice Label',
    });

    // Strict: every column and formatted value the event carries must be one the schema types.
    const strict = structuredClone(typed);
    for (const part of ['attributes', 'formattedValues'] as const) {
      (strict.properties?.[part] as Schema).additionalProperties = false;
    }
    const validate = ajv.compile(validatorSchema(notificationWith(strict), definition.definitions));
    expect(validate(delivered), ajv.errorsText(validate.errors)).toBe(true);
    const target = delivered.inputParameters.Target;
    expect(Object.keys(target.attributes).length).toBeGreaterThan(20);
    expect(Object.keys(target.attributes).filter((name) => !(name in attributes))).toEqual([]);

    // Not a schema that accepts anything: a raw (not normalized) Money or a lookup given as a bare id fails it.
    const raw = structuredClone(delivered);
    raw.inputParameters.Target.attributes.shko_currency = { Value: 100 };
    raw.inputParameters.Target.attributes.shko_lookup = target.attributes.shko_lookup.id;
    expect(validate(raw)).toBe(false);
    expect(ajv.errorsText(validate.errors)).toMatch(/shko_currency/);
    expect(ajv.errorsText(validate.errors)).toMatch(/shko_lookup/);
  }, 30_000);

  it('types the event row with the function key alone: definitions read as the app, as the table dropdown is', async () => {
    const before = dataverse.requests.length;
    // The metadata cache may already hold the table: ask for one it cannot have loaded yet.
    dataverse.seedTable({ logicalName: 'shko_other', columns: [{ logicalName: 'name', type: 'String' }] });
    const typed = await eventSchema('shko_other');
    expect(typed.properties?.attributes?.properties?.name?.type).toBe('string');
    const asked = dataverse.requests.slice(before);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.kind === 'metadata' && r.callerObjectId === undefined)).toBe(true);
    const unknown = await host.request('/api/dataverse/tables/nosuchtable/schema?purpose=event');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('TableNotFound');
    const bad = await host.request('/api/dataverse/tables/Bad-Name/schema?purpose=event');
    expect(bad.status).toBe(400);
  });

  it('fills the trigger’s Table dropdown from metadata, and answers a declared 503 while Dataverse is down', async () => {
    const dropdown = definition.definitions.SubscriptionRequest?.properties?.table?.['x-ms-dynamic-values'];
    expect(dropdown?.operationId).toBe('ListTables');
    const listed = await host.request('/api/tables');
    expect(listed.status).toBe(200);
    // Tables no event was seen for yet are offered too, by their display names.
    expect(((await listed.json()) as { value: unknown[] }).value).toContainEqual({
      name: 'shko_other',
      displayName: 'shko_other',
    });
    dataverse.inject({ kind: 'status', status: 503 }, { match: (r) => r.path.endsWith('/EntityDefinitions') });
    const down = await host.request('/api/tables');
    expect(down.status).toBe(503);
    const tables = definition.paths['/tables'] as { get: { responses: Record<string, { schema?: Schema }> } };
    const declared = tables.get.responses['503'];
    expect(declared?.schema).toBeDefined();
    const validate = ajv.compile(validatorSchema(declared?.schema as Schema, definition.definitions));
    const body = await down.json();
    expect(validate(body), ajv.errorsText(validate.errors)).toBe(true);
    expect((body as { error: { code: string } }).error.code).toBe('DataverseUnavailable');
  });

  it('answers the untyped row without a Dataverse environment, so the designer still gets a schema', async () => {
    const answer = await getEventSchema(undefined, 'contact');
    expect(answer.status).toBe(200);
    const schema = (answer.jsonBody as { schema: Schema }).schema;
    expect(schema.properties?.attributes?.properties).toBeUndefined();
    // The definition declares this same untyped Target, plus the extensions that ask for the typed one.
    const declared = {
      ...(definition.definitions.DataverseContext?.properties?.inputParameters?.properties?.Target as Schema),
    };
    delete declared['x-ms-dynamic-schema'];
    delete declared['x-ms-dynamic-properties'];
    expect(schema).toEqual(declared);
  });
});
