import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, RowSnapshot } from '../../shared/changes/types.js';
import type { TableListItem } from '../../shared/connector/changes.js';
import type { PublishEventRequest, PublishResult } from '../../shared/connector/events.js';
import type { Check, Health } from '../../shared/connector/health.js';
import { type JobView, toJobView } from '../../shared/connector/jobs.js';
import { buildDefinition, serializeDefinition, swaggerPath } from '../../shared/connector/openapi.js';
import { httpTrigger, operations } from '../../shared/connector/operations.js';
import type { ReplayResult } from '../../shared/connector/replay.js';
import { checkShape } from '../../shared/connector/requests.js';
import { apiError } from '../../shared/connector/responses.js';
import { type DefinitionName, definitions } from '../../shared/connector/schemas.js';
import { readContext } from '../../shared/dataverse/readContext.js';
import type { JobRecord } from '../../shared/pipeline/jobs.js';
import type { DeliveryError, Subscription } from '../../shared/subscriptions/types.js';
import { addConnectorCommand, runConnector } from '../../tools/cli/connector.js';
import { LINT_RULES, type LintRule, lintDefinition } from '../../tools/connector/lint.js';
import { compileRoute } from '../../tools/localhost/routes.js';
import { capture, inTempDir } from '../helpers/cliOutput.js';
import { contextBytes, contextNames } from '../helpers/fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMMITTED = join(ROOT, 'connector', 'apiDefinition.swagger.json');

type Json = Record<string, unknown>;

/** A fresh, mutable copy of the generated definition. */
function definition(): Json {
  return JSON.parse(serializeDefinition(buildDefinition())) as Json;
}

/** The object at a path of keys, to break it in place. */
function node(root: unknown, ...path: (string | number)[]): Json {
  let current = root;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  return current as Json;
}

describe('the connector definition', () => {
  it('is committed exactly as generated (regenerate with: dataverse-bridge connector)', async () => {
    const committed = await readFile(COMMITTED, 'utf8');
    expect(committed).toBe(serializeDefinition(buildDefinition()));
  });

  it('is printed exactly the way the repository formatter (Biome) prints JSON', async () => {
    const committed = await readFile(COMMITTED, 'utf8');
    const biome = spawnSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', `--stdin-file-path=${COMMITTED}`], {
      cwd: ROOT,
      input: committed,
      encoding: 'utf8',
    });
    expect(biome.status).toBe(0);
    expect(biome.stdout).toBe(committed);
  });

  it('serializes as two-space JSON with arrays of plain values on one line when they fit in 120 columns', () => {
    expect(serializeDefinition({ a: ['x', 1, true, null], b: [], c: {}, d: [{ k: 'v' }], e: 'é' })).toBe(
      '{\n  "a": ["x", 1, true, null],\n  "b": [],\n  "c": {},\n  "d": [\n    {\n      "k": "v"\n    }\n  ],\n  "e": "é"\n}\n',
    );
    // Indent 2, `"aaa": ` 7, the array 110, the comma 1: 120 columns fit; one character more breaks the array.
    const fits = 'x'.repeat(106);
    expect(serializeDefinition({ aaa: [fits], b: 1 })).toContain(`  "aaa": ["${fits}"],\n`);
    expect(serializeDefinition({ aaa: [`${fits}x`], b: 1 })).toContain(`  "aaa": [\n    "${fits}x"\n  ],\n`);
    const def = buildDefinition();
    expect(JSON.parse(serializeDefinition(def))).toEqual(def);
  });

  it('is a valid Swagger 2.0 document (swagger-parser)', async () => {
    // validate() dereferences in place, so it gets its own copy.
    const api = await SwaggerParser.validate(definition() as never);
    expect(api.info.title).toBe('Dataverse Bridge');
  });

  it('passes our certification lint and stays far below 1 MB', async () => {
    const bytes = await readFile(COMMITTED);
    expect(lintDefinition(JSON.parse(bytes.toString('utf8')), bytes)).toEqual([]);
    expect(bytes.byteLength).toBeLessThan(1024 * 1024);
  });

  it('has the shape Power Platform expects at the top level', () => {
    const def = buildDefinition();
    expect(def).toMatchObject({
      swagger: '2.0',
      info: { title: 'Dataverse Bridge', contact: { name: expect.any(String), url: expect.stringMatching(/^https:/) } },
      host: 'your-app.azurewebsites.net',
      basePath: '/api',
      schemes: ['https'],
      consumes: ['application/json'],
      produces: ['application/json'],
      securityDefinitions: { api_key: { type: 'apiKey', in: 'header', name: 'x-functions-key' } },
      security: [{ api_key: [] }],
    });
    expect(def['x-ms-connector-metadata'].map((entry) => entry.propertyName)).toEqual([
      'Website',
      'Privacy policy',
      'Categories',
    ]);
    expect(buildDefinition({ host: 'contoso-bridge.azurewebsites.net', version: '2.0.0' })).toMatchObject({
      host: 'contoso-bridge.azurewebsites.net',
      info: { version: '2.0.0' },
    });
  });

  it('is deterministic and shares nothing with the declarations', () => {
    const first = buildDefinition();
    node(first, 'paths', '/tables', 'get').summary = 'changed';
    node(first, 'definitions', 'Job').type = 'string';
    expect(serializeDefinition(buildDefinition())).toBe(serializeDefinition(definition()));
    expect(node(buildDefinition(), 'paths', '/tables', 'get').summary).toBe('List tables');
    expect(node(buildDefinition(), 'definitions', 'Job').type).toBe('object');
  });

  it('describes the webhook trigger the way Power Automate calls it', () => {
    const def = definition();
    const subscriptions = node(def, 'paths', '/subscriptions');
    const trigger = node(subscriptions, 'post');
    expect(trigger.operationId).toBe('WhenAnEventOccurs');
    expect(trigger['x-ms-trigger']).toBe('single');
    expect(node(trigger, 'responses', '201', 'headers', 'Location').type).toBe('string');
    expect(node(subscriptions, 'x-ms-notification-content', 'schema').$ref).toBe('#/definitions/DataverseContext');
    const request = node(def, 'definitions', 'SubscriptionRequest');
    expect(request.required).toEqual(['callbackUrl']);
    expect(node(request, 'properties', 'callbackUrl')).toMatchObject({
      'x-ms-notification-url': true,
      'x-ms-visibility': 'internal',
    });
    expect(node(request, 'properties', 'table', 'x-ms-dynamic-values')).toEqual({
      operationId: 'ListTables',
      'value-collection': 'value',
      'value-path': 'name',
      'value-title': 'name',
    });
    const context = node(def, 'definitions', 'DataverseContext', 'properties');
    expect(
      ['messageName', 'primaryEntityName', 'primaryEntityId', 'changedAttributes'].map(
        (name) => node(context, name)['x-ms-summary'],
      ),
    ).toEqual(['Message Name', 'Table', 'Row ID', 'Changed Columns']);
    expect(node(def, 'paths', '/subscriptions/{id}', 'delete')['x-ms-visibility']).toBe('internal');
  });

  it('pages changes and jobs with nextLink, and offers the tables dropdown on table parameters', () => {
    const def = definition();
    for (const path of ['/tables/{table}/changes', '/jobs'])
      expect(node(def, 'paths', path, 'get')['x-ms-pageable']).toEqual({ nextLinkName: 'nextLink' });
    for (const path of ['/tables/{table}/changes', '/tables/{table}/rows/{id}']) {
      const table = (node(def, 'paths', path, 'get').parameters as Json[])[0] as Json;
      expect(table).toMatchObject({ name: 'table', in: 'path', required: true, 'x-ms-url-encoding': 'single' });
      expect(node(table, 'x-ms-dynamic-values').operationId).toBe('ListTables');
    }
  });
});

describe('the operation declarations', () => {
  it('match the contract table: function name, operationId, method, route and auth level', () => {
    expect(operations.map((op) => [op.name, op.operationId, op.method, op.route, op.authLevel])).toEqual([
      ['health', 'GetHealth', 'GET', 'health', 'anonymous'],
      ['openApiDefinition', 'GetApiDefinition', 'GET', 'openapi.json', 'anonymous'],
      ['listTables', 'ListTables', 'GET', 'tables', 'function'],
      ['listChanges', 'ListChanges', 'GET', 'tables/{table}/changes', 'function'],
      ['getRow', 'GetRow', 'GET', 'tables/{table}/rows/{id}', 'function'],
      ['publishEvent', 'PublishEvent', 'POST', 'events', 'function'],
      ['listJobs', 'ListJobs', 'GET', 'jobs', 'function'],
      ['getJob', 'GetJob', 'GET', 'jobs/{id}', 'function'],
      ['replayJob', 'ReplayJob', 'POST', 'jobs/{id}/replay', 'function'],
      ['createSubscription', 'WhenAnEventOccurs', 'POST', 'subscriptions', 'function'],
      ['listSubscriptions', 'ListSubscriptions', 'GET', 'subscriptions', 'function'],
      ['deleteSubscription', 'DeleteSubscription', 'DELETE', 'subscriptions/{id}', 'anonymous'],
      ['listDataverseTables', 'ListDataverseTables', 'GET', 'dataverse/tables', 'function'],
      ['listDataverseColumns', 'ListDataverseColumns', 'GET', 'dataverse/tables/{table}/columns', 'function'],
      ['getDataverseTableSchema', 'GetDataverseTableSchema', 'GET', 'dataverse/tables/{table}/schema', 'function'],
      ['listDataverseRows', 'ListDataverseRows', 'GET', 'dataverse/tables/{table}/rows', 'function'],
      ['createDataverseRow', 'CreateDataverseRow', 'POST', 'dataverse/tables/{table}/rows', 'function'],
      ['getDataverseRow', 'GetDataverseRow', 'GET', 'dataverse/tables/{table}/rows/{id}', 'function'],
      ['updateDataverseRow', 'UpdateDataverseRow', 'PATCH', 'dataverse/tables/{table}/rows/{id}', 'function'],
      ['deleteDataverseRow', 'DeleteDataverseRow', 'DELETE', 'dataverse/tables/{table}/rows/{id}', 'function'],
    ]);
  });

  it('give app.http its route, method and auth level', () => {
    expect(httpTrigger('listTables')).toEqual({ route: 'tables', methods: ['GET'], authLevel: 'function' });
    expect(httpTrigger('deleteSubscription')).toEqual({
      route: 'subscriptions/{id}',
      methods: ['DELETE'],
      authLevel: 'anonymous',
    });
  });

  it('have routes the Functions host compiles, with a path parameter declared for each route parameter', () => {
    const samples: Record<string, string> = {
      'tables/{table}/changes': 'tables/account/changes',
      'tables/{table}/rows/{id}': 'tables/account/rows/6d81597f-0f9f-e711-8122-000d3aa2331c',
      'jobs/{id}': 'jobs/0123456789abcdef0123456789abcdef',
      'jobs/{id}/replay': 'jobs/0123456789abcdef0123456789abcdef/replay',
      'subscriptions/{id}': 'subscriptions/fedcba9876543210fedcba9876543210',
    };
    for (const op of operations) {
      const route = compileRoute(op.route);
      const sample = samples[op.route] ?? op.route;
      const params = route.match(sample);
      expect(params, op.route).toBeDefined();
      const fromRoute = Object.keys(params ?? {}).sort();
      const declared = op.parameters
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      expect(declared, op.route).toEqual(fromRoute);
      expect(swaggerPath(op.route)).toBe(`/${op.route}`);
    }
    expect(
      compileRoute('tables/{table}/rows/{id}').match('tables/account/rows/6d81597f-0f9f-e711-8122-000d3aa2331c'),
    ).toEqual({ table: 'account', id: '6d81597f-0f9f-e711-8122-000d3aa2331c' });
  });

  it('turn route constraints into plain Swagger path parameters', () => {
    expect(swaggerPath('tables/{table}/rows/{id:guid}')).toBe('/tables/{table}/rows/{id}');
    expect(swaggerPath('files/{*path}')).toBe('/files/{path}');
    expect(swaggerPath('items/{id?}')).toBe('/items/{id}');
  });
});

describe('the schemas', () => {
  const keys = (name: DefinitionName) => Object.keys(definitions[name].properties ?? {}).sort();
  const fields = (record: Record<string, true>) => Object.keys(record).sort();

  // `satisfies Record<keyof T, true>` fails to compile when a field is added to or removed from a type: the schema
  // must then follow.
  it('have exactly the fields of the types the handlers answer with', () => {
    const job = {
      id: true,
      status: true,
      attempts: true,
      receivedAt: true,
      updatedAt: true,
      publishedAt: true,
      verifiedAt: true,
      source: true,
      messageId: true,
      deliveryCount: true,
      table: true,
      message: true,
      rowId: true,
      operationId: true,
      organizationId: true,
      eventId: true,
      error: true,
      raw: true,
      replayedAs: true,
    } as const satisfies Record<keyof JobView, true>;
    expect(keys('Job')).toEqual(fields(job));

    const change = {
      eventId: true,
      type: true,
      message: true,
      table: true,
      rowId: true,
      time: true,
      changedAttributes: true,
      attributes: true,
      attributesTruncated: true,
      previousValues: true,
      valueChangedAttributes: true,
      unknownPreviousAttributes: true,
      userId: true,
      initiatingUserId: true,
      operationId: true,
      correlationId: true,
      organizationId: true,
      source: true,
    } as const satisfies Record<keyof ChangeRecord, true>;
    expect(keys('ChangeRecord')).toEqual(fields(change));

    const row = {
      table: true,
      id: true,
      deleted: true,
      attributes: true,
      formattedValues: true,
      updatedAt: true,
      lastEventId: true,
      lastMessage: true,
    } as const satisfies Record<keyof RowSnapshot, true>;
    expect(keys('RowSnapshot')).toEqual(fields(row));
    expect(keys('TableInfo')).toEqual(
      fields({ name: true, displayName: true, lastSeenAt: true } as const satisfies Record<keyof TableListItem, true>),
    );

    const view = {
      id: true,
      callbackUrl: true,
      tables: true,
      messages: true,
      columns: true,
      onlyWhenValuesChange: true,
      createdAt: true,
      health: true,
      consecutiveFailures: true,
      lastError: true,
      lastDeliveredAt: true,
    } as const satisfies Record<keyof Omit<Subscription, 'secret' | 'deleteTokenHash' | 'etag'>, true>;
    expect(keys('SubscriptionView')).toEqual(fields(view));
    expect(keys('SubscriptionCreated')).toEqual(fields({ ...view, secret: true }));
    expect(keys('DeliveryError')).toEqual(
      fields({ code: true, message: true, status: true, at: true, eventId: true } as const satisfies Record<
        keyof DeliveryError,
        true
      >),
    );

    expect(keys('Health')).toEqual(
      fields({ status: true, version: true, checks: true, reconciliation: true } as const satisfies Record<
        keyof Health,
        true
      >),
    );
    expect(keys('Check')).toEqual(
      fields({
        status: true,
        durationMs: true,
        message: true,
        failedSystemJobsLastHour: true,
      } as const satisfies Record<keyof Check, true>),
    );
    expect(keys('PublishEventRequest')).toEqual(
      fields({
        table: true,
        rowId: true,
        message: true,
        attributes: true,
        idempotencyKey: true,
      } as const satisfies Record<keyof PublishEventRequest, true>),
    );
    expect(keys('PublishResult')).toEqual(
      fields({ jobId: true, eventId: true, status: true } as const satisfies Record<keyof PublishResult, true>),
    );
    expect(keys('ReplayResult')).toEqual(
      fields({ jobId: true, status: true, eventId: true, error: true } as const satisfies Record<
        keyof ReplayResult,
        true
      >),
    );
  });

  it('accept what the handlers produce', () => {
    const record: JobRecord = {
      id: '0123456789abcdef0123456789abcdef',
      status: 'rejected',
      attempts: 2,
      receivedAt: '2026-11-21T09:00:00.000Z',
      updatedAt: '2026-11-21T09:00:01.000Z',
      leaseUntil: '2026-11-21T09:05:00.000Z',
      source: 'webhook',
      table: 'account',
      error: { code: 'NotJson', message: 'The body is not valid JSON.', path: 'body' },
      raw: { key: '0123456789abcdef0123456789abcdef', size: 12, sha256: 'ab'.repeat(32), contentType: 'text/plain' },
      transport: '{}',
      etag: 'W/"1"',
    };
    expect(checkShape('Job', toJobView(record))).toBeUndefined();
    expect(
      checkShape('JobPage', { value: [toJobView(record)], nextLink: 'https://x.example/api/jobs?c=1' }),
    ).toBeUndefined();
    expect(checkShape('Error', apiError(404, 'NotFound', 'No job.', 'id').jsonBody)).toBeUndefined();
    const change: ChangeRecord = {
      eventId: '4b1f0c2e-93aa-8c51-9f3d-2a7e11c0b5d4',
      type: 'dataverse.update',
      message: 'Update',
      table: 'contact',
      rowId: '6d81597f-0f9f-e711-8122-000d3aa2331c',
      time: '2017-09-26T07:04:08.000Z',
      changedAttributes: ['firstname'],
      attributes: { firstname: 'Ada' },
      userId: null,
      initiatingUserId: null,
      operationId: null,
      correlationId: null,
      organizationId: '00000000-0000-0000-0000-000000000000',
      source: '/organizations/00000000-0000-0000-0000-000000000000',
    };
    expect(checkShape('ChangePage', { value: [change] })).toBeUndefined();
  });

  it('describe every delivered normalized context of the reference samples', () => {
    const names = contextNames();
    expect(names.length).toBeGreaterThan(5);
    for (const name of names)
      expect(checkShape('DataverseContext', readContext(contextBytes(name))), name).toBeUndefined();
  });

  it('reject what the handlers must not produce', () => {
    expect(checkShape('Job', { id: 'x', status: 'done' })).toEqual({
      target: 'attempts',
      message: expect.stringMatching(/^attempts is required/),
    });
    expect(checkShape('DataverseContext', { messageName: 'Update' })?.target).toBe('primaryEntityName');
  });
});

describe('lintDefinition', () => {
  interface Case {
    rule: LintRule;
    path: string;
    /** Other rules the same break legitimately trips. */
    also?: LintRule[];
    breakIt(def: Json): void;
  }
  const param = (def: Json, path: string, index: number, method = 'get') =>
    (ops(def, path, method).parameters as Json[])[index] as Json;
  const CASES: Case[] = [
    {
      rule: 'swagger-version',
      path: 'swagger',
      breakIt: (def) => {
        def.swagger = '3.0';
      },
    },
    {
      rule: 'info-title',
      path: 'info.title',
      breakIt: (def) => {
        node(def, 'info').title = 'Dataverse Bridge for Every Event Ever';
      },
    },
    {
      rule: 'info-title',
      path: 'info.title',
      breakIt: (def) => {
        node(def, 'info').title = 'Dataverse API';
      },
    },
    {
      rule: 'info-title',
      path: 'info.title',
      breakIt: (def) => {
        node(def, 'info').title = 'Dataverse Connector';
      },
    },
    {
      rule: 'info-description',
      path: 'info.description',
      breakIt: (def) => {
        node(def, 'info').description = 'An API for Dataverse events.';
      },
    },
    {
      rule: 'info-contact',
      path: 'info.contact',
      breakIt: (def) => {
        node(def, 'info').contact = { name: 'Someone' };
      },
    },
    {
      rule: 'connector-metadata',
      path: 'x-ms-connector-metadata',
      breakIt: (def) => {
        def['x-ms-connector-metadata'] = [
          { propertyName: 'Website', propertyValue: 'https://example.com' },
          { propertyName: 'Categories', propertyValue: 'Data' },
        ];
      },
    },
    {
      rule: 'operation-id',
      path: 'paths["/jobs"].get.operationId',
      breakIt: (def) => {
        ops(def, '/jobs').operationId = 'list_jobs';
      },
    },
    {
      rule: 'operation-id-unique',
      path: 'paths["/jobs"].get.operationId',
      breakIt: (def) => {
        ops(def, '/jobs').operationId = 'ListTables';
      },
    },
    {
      rule: 'operation-summary',
      path: 'paths["/tables"].get.summary',
      breakIt: (def) => {
        ops(def, '/tables').summary = `List ${'every single '.repeat(7)}table`;
      },
    },
    {
      rule: 'operation-summary',
      path: 'paths["/tables"].get.summary',
      breakIt: (def) => {
        ops(def, '/tables').summary = 'List tables.';
      },
    },
    {
      rule: 'operation-summary',
      path: 'paths["/tables"].get.summary',
      breakIt: (def) => {
        ops(def, '/tables').summary = 'List tables/views';
      },
    },
    {
      rule: 'operation-description',
      path: 'paths["/tables"].get.description',
      breakIt: (def) => {
        ops(def, '/tables').description = 'Lists the tables seen so far';
      },
    },
    {
      rule: 'operation-description',
      path: 'paths["/tables"].get.description',
      breakIt: (def) => {
        ops(def, '/tables').description = 'List tables.';
      },
    },
    {
      rule: 'operation-visibility',
      path: 'paths["/tables"].get.x-ms-visibility',
      breakIt: (def) => {
        delete ops(def, '/tables')['x-ms-visibility'];
      },
    },
    {
      rule: 'parameter-summary',
      path: 'paths["/jobs"].get.parameters[0].x-ms-summary',
      breakIt: (def) => {
        delete param(def, '/jobs', 0)['x-ms-summary'];
      },
    },
    {
      rule: 'parameter-description',
      path: 'paths["/jobs"].get.parameters[0].description',
      breakIt: (def) => {
        param(def, '/jobs', 0).description = 'Only jobs in this status';
      },
    },
    {
      rule: 'parameter-visibility',
      path: 'paths["/jobs"].get.parameters[0].x-ms-visibility',
      breakIt: (def) => {
        param(def, '/jobs', 0)['x-ms-visibility'] = 'hidden';
      },
    },
    {
      rule: 'path-parameter',
      path: 'paths["/jobs/{id}"].get.parameters[0].required',
      breakIt: (def) => {
        param(def, '/jobs/{id}', 0).required = false;
      },
    },
    {
      rule: 'path-parameter',
      path: 'paths["/jobs/{id}"].get.parameters[0].x-ms-url-encoding',
      breakIt: (def) => {
        delete param(def, '/jobs/{id}', 0)['x-ms-url-encoding'];
      },
    },
    {
      rule: 'path-parameter',
      path: 'paths["/jobs/{id}"].get.parameters',
      breakIt: (def) => {
        param(def, '/jobs/{id}', 0).name = 'jobId';
      },
    },
    {
      rule: 'internal-required-default',
      path: 'paths["/jobs"].get.parameters[3]',
      breakIt: (def) => {
        param(def, '/jobs', 3).required = true;
      },
    },
    {
      rule: 'body-property-summary',
      path: 'definitions.PublishEventRequest.properties.rowId.x-ms-summary',
      breakIt: (def) => {
        delete node(def, 'definitions', 'PublishEventRequest', 'properties', 'rowId')['x-ms-summary'];
      },
    },
    {
      rule: 'body-property-description',
      path: 'definitions.PublishEventRequest.properties.rowId.description',
      breakIt: (def) => {
        node(def, 'definitions', 'PublishEventRequest', 'properties', 'rowId').description = 'The row';
      },
    },
    {
      rule: 'body-property-visibility',
      path: 'definitions.PublishEventRequest.properties.rowId.x-ms-visibility',
      breakIt: (def) => {
        delete node(def, 'definitions', 'PublishEventRequest', 'properties', 'rowId')['x-ms-visibility'];
      },
    },
    {
      rule: 'schema-property-summary',
      path: 'definitions.Job.properties.status.x-ms-summary',
      breakIt: (def) => {
        delete node(def, 'definitions', 'Job', 'properties', 'status')['x-ms-summary'];
      },
    },
    {
      rule: 'schema-property-description',
      path: 'definitions.DataverseContext.properties.messageName.description',
      breakIt: (def) => {
        node(def, 'definitions', 'DataverseContext', 'properties', 'messageName').description = 'Message Name.';
      },
    },
    {
      rule: 'response-success',
      path: 'paths["/tables"].get.responses.200',
      breakIt: (def) => {
        delete node(ops(def, '/tables'), 'responses', '200').schema;
      },
    },
    {
      rule: 'response-success',
      path: 'paths["/tables"].get.responses',
      breakIt: (def) => {
        delete node(ops(def, '/tables'), 'responses')['200'];
      },
    },
    {
      rule: 'response-default',
      path: 'paths["/tables"].get.responses.default',
      breakIt: (def) => {
        node(ops(def, '/tables'), 'responses', 'default').schema = { $ref: '#/definitions/Error' };
      },
    },
    {
      rule: 'pageable',
      path: 'paths["/jobs"].get.x-ms-pageable',
      breakIt: (def) => {
        ops(def, '/jobs')['x-ms-pageable'] = { nextLinkName: '@odata.nextLink' };
      },
    },
    {
      rule: 'trigger',
      path: 'paths["/subscriptions"].post.x-ms-trigger',
      breakIt: (def) => {
        ops(def, '/subscriptions', 'post')['x-ms-trigger'] = 'multiple';
      },
    },
    {
      rule: 'trigger-present',
      path: 'paths',
      breakIt: (def) => {
        delete ops(def, '/subscriptions', 'post')['x-ms-trigger'];
      },
    },
    {
      rule: 'trigger-notification-url',
      path: 'paths["/subscriptions"].post.parameters',
      also: ['internal-required-default'], // the callback URL is then an ordinary required internal field
      breakIt: (def) => {
        delete node(def, 'definitions', 'SubscriptionRequest', 'properties', 'callbackUrl')['x-ms-notification-url'];
      },
    },
    {
      rule: 'trigger-notification-url',
      path: 'paths["/subscriptions"].post.parameters',
      breakIt: (def) => {
        node(def, 'definitions', 'SubscriptionRequest').required = [];
      },
    },
    {
      rule: 'trigger-notification-url',
      path: 'paths["/subscriptions"].post.parameters',
      breakIt: (def) => {
        node(def, 'definitions', 'SubscriptionRequest', 'properties', 'callbackUrl')['x-ms-visibility'] = 'advanced';
      },
    },
    {
      rule: 'trigger-location',
      path: 'paths["/subscriptions"].post.responses',
      breakIt: (def) => {
        delete node(ops(def, '/subscriptions', 'post'), 'responses', '201').headers;
      },
    },
    {
      rule: 'trigger-notification-content',
      path: 'paths["/subscriptions"].x-ms-notification-content',
      breakIt: (def) => {
        delete node(def, 'paths', '/subscriptions')['x-ms-notification-content'];
      },
    },
    {
      rule: 'dynamic-values',
      path: 'paths["/tables/{table}/changes"].get.parameters[0].x-ms-dynamic-values',
      breakIt: (def) => {
        node(param(def, '/tables/{table}/changes', 0), 'x-ms-dynamic-values').operationId = 'GetTables';
      },
    },
    {
      rule: 'dynamic-schema',
      path: 'definitions.DataverseContext.properties.inputParameters.properties.Target.x-ms-dynamic-schema',
      breakIt: (def) => {
        const target = node(
          def,
          'definitions',
          'DataverseContext',
          'properties',
          'inputParameters',
          'properties',
          'Target',
        );
        node(target, 'x-ms-dynamic-schema').parameters = {
          table: { parameter: 'table' },
          purpose: { value: 'events' },
        };
      },
    },
    {
      rule: 'dynamic-schema',
      path: 'definitions.DataverseRowInput.x-ms-dynamic-properties',
      breakIt: (def) => {
        node(def, 'definitions', 'DataverseRowInput', 'x-ms-dynamic-properties').operationId = 'GetTableSchema';
      },
    },
    {
      rule: 'dynamic-schema',
      path: 'definitions.DataverseRowOutput.x-ms-dynamic-schema',
      breakIt: (def) => {
        const dynamic = node(def, 'definitions', 'DataverseRowOutput', 'x-ms-dynamic-schema');
        dynamic.parameters = { tableName: { parameter: 'table' } };
        delete dynamic['value-path'];
      },
    },
    {
      rule: 'paths',
      path: 'paths',
      // No operations: no trigger, and ListTables and GetDataverseTableSchema are gone.
      also: ['trigger-present', 'dynamic-values', 'dynamic-schema'],
      breakIt: (def) => {
        delete def.paths;
      },
    },
  ];

  it.each(CASES)('reports $rule at $path', ({ rule, path, also, breakIt }) => {
    const def = definition();
    breakIt(def);
    const problems = lintDefinition(def);
    expect(problems).toContainEqual({ rule, path, message: expect.any(String) });
    expect(new Set(problems.map((problem) => problem.rule))).toEqual(new Set([rule, ...(also ?? [])]));
  });

  it('has a case for every rule it applies', () => {
    expect(new Set([...CASES.map((c) => c.rule), 'file-size'])).toEqual(new Set(LINT_RULES));
  });

  it('reports a file over 1 MB', () => {
    expect(lintDefinition(definition(), 'x'.repeat(1024 * 1024 + 1))).toEqual([
      { rule: 'file-size', path: '', message: expect.stringContaining('1048577 bytes') },
    ]);
    expect(lintDefinition(definition(), new Uint8Array(1024 * 1024))).toEqual([]);
  });

  it('judges anything, not only objects', () => {
    expect(lintDefinition(null).map((problem) => problem.rule)).toEqual(['swagger-version']);
    expect(lintDefinition({}).map((problem) => problem.rule)).toEqual([
      'swagger-version',
      'info-title',
      'info-contact',
      'connector-metadata',
      'paths',
      'trigger-present',
    ]);
  });
});

describe('dataverse-bridge connector', () => {
  it('writes the generated definition, then --check finds it up to date', () =>
    inTempDir(async (dir) => {
      const out = capture();
      const err = capture();
      expect(await runConnector({ out: dir }, out, err)).toBe(0);
      expect(err.text()).toBe('');
      expect(out.text()).toMatch(/^wrote .*apiDefinition\.swagger\.json \(\d+ bytes, 20 operations/);
      expect(await readFile(join(dir, 'apiDefinition.swagger.json'), 'utf8')).toBe(
        serializeDefinition(buildDefinition()),
      );
      const check = capture();
      expect(await runConnector({ out: dir, check: true }, check, err)).toBe(0);
      expect(check.text()).toContain('is up to date');
    }));

  it('--check exits 1 naming each difference, and lints the committed file', () =>
    inTempDir(async (dir) => {
      const stale = definition();
      node(stale, 'info').title = 'Dataverse Bridge API';
      delete ops(stale, '/tables').summary;
      await writeFile(join(dir, 'apiDefinition.swagger.json'), serializeDefinition(stale));
      const err = capture();
      expect(await runConnector({ out: dir, check: true }, capture(), err)).toBe(1);
      const text = err.text();
      expect(text).toContain('info.title: the file has "Dataverse Bridge API", generated is "Dataverse Bridge"');
      expect(text).toContain('paths["/tables"].get.summary: missing from the file');
      expect(text).toContain('lint: info.title: The title must not contain "API" or "Connector". [info-title]');
      expect(text).toContain('Run "dataverse-bridge connector" to regenerate it');
    }));

  it('--check tells a formatting-only difference and a missing file apart', () =>
    inTempDir(async (dir) => {
      await writeFile(join(dir, 'apiDefinition.swagger.json'), JSON.stringify(buildDefinition(), null, 4));
      const err = capture();
      expect(await runConnector({ out: dir, check: true }, capture(), err)).toBe(1);
      expect(err.text()).toContain('the formatting or key order differs');
      const missing = capture();
      expect(await runConnector({ out: join(dir, 'nowhere'), check: true }, capture(), missing)).toBe(1);
      expect(missing.text()).toMatch(/cannot read .*ENOENT/);
    }));

  it('--host writes a definition for one deployment', () =>
    inTempDir(async (dir) => {
      expect(await runConnector({ out: dir, host: 'contoso-bridge.azurewebsites.net' }, capture(), capture())).toBe(0);
      const written = JSON.parse(await readFile(join(dir, 'apiDefinition.swagger.json'), 'utf8')) as Json;
      expect(written.host).toBe('contoso-bridge.azurewebsites.net');
    }));

  it('is registered as a subcommand with its options', () => {
    const program = new Command();
    addConnectorCommand(program);
    const command = program.commands.find((candidate) => candidate.name() === 'connector');
    expect(command?.options.map((option) => option.long)).toEqual([
      '--out',
      '--host',
      '--check',
      '--entra-client-id',
      '--entra-resource-uri',
      '--entra-tenant-id',
      '--force',
    ]);
  });
});

function ops(def: Json, path: string, method = 'get'): Json {
  return node(def, 'paths', path, method);
}
