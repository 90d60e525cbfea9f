/**
 * The connector's Dataverse operations through the local host (the bundle, real HTTP) against the Dataverse double,
 * with users' bearer tokens from the Entra double's local issuer: every operation answers what the served definition
 * declares, rows match the schema `GetDataverseTableSchema` serves for their table, requests reach Dataverse as the
 * caller (`CallerObjectId`), and a function key alone is refused unless BRIDGE_DATAVERSE_APP_OPERATIONS allows it.
 */
import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Schema, validatorSchema } from '../../shared/connector/schemas.js';
import { seedTables } from '../dataverseApi/helpers.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { EntraDouble } from '../doubles/entra.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';

const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => void };
const AUDIENCE = 'api://dataverse-bridge-tests';

interface SwaggerDocument {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { schema?: Schema }> }>>;
  definitions: Record<string, Schema>;
}

let dataverse: DataverseDouble;
let entra: EntraDouble;
let host: RunningHost;
let appHost: RunningHost;
let definition: SwaggerDocument;
const validated = new Set<string>();
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
const maker = randomUUID();
let token: string;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  seedTables(dataverse);
  dataverse.seedRows(
    'account',
    ['Alpine', 'Birch', 'Cedar'].map((name) => ({ name, industrycode: 2 })),
  );
  entra = new EntraDouble();
  const [metadataUrl] = await Promise.all([entra.startPublicMetadata(), dataverse.start()]);
  token = entra.userToken(AUDIENCE, { oid: maker });
  const settings = {
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_RETRY_BUDGET_SECONDS: '0',
    BRIDGE_AUTH_TENANT_ID: entra.tenantId,
    BRIDGE_AUTH_AUDIENCE: AUDIENCE,
    BRIDGE_AUTH_METADATA_URL: metadataUrl,
  };
  [host, appHost] = await Promise.all([
    startLocalHost(settings),
    startLocalHost({ ...settings, BRIDGE_DATAVERSE_APP_OPERATIONS: 'true' }),
  ]);
  definition = (await (await host.request('/api/openapi.json')).json()) as SwaggerDocument;
}, 60_000);

afterAll(async () => {
  await Promise.all([host?.stop(), appHost?.stop()]);
  await Promise.all([dataverse?.stop(), entra?.stop()]);
});

/** Calls the host (with the key, and the maker's token unless `bearer: null`) and checks the declared answer. */
async function call(
  method: string,
  path: string,
  init: { body?: unknown; bearer?: string | null; headers?: Record<string, string>; on?: RunningHost } = {},
  // biome-ignore lint/suspicious/noExplicitAny: every answer is validated against the served definition before use
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  const bearer = init.bearer === undefined ? token : init.bearer;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await (init.on ?? host).request(path, {
    method,
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  const body: unknown = text === '' ? undefined : JSON.parse(text);
  const operation = operationFor(method, path);
  const declared = operation.responses[String(response.status)];
  expect(declared, `${operation.operationId} declares ${response.status}: ${text}`).toBeDefined();
  if (declared?.schema) {
    const validate = ajv.compile(validatorSchema(declared.schema, definition.definitions));
    expect(validate(body), `${operation.operationId}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    if (response.status < 300) validated.add(operation.operationId);
  }
  return { status: response.status, body, headers: response.headers };
}

function operationFor(method: string, path: string) {
  const pathname = new URL(path, 'http://x').pathname.replace(/^\/api/, '');
  for (const [template, operations] of Object.entries(definition.paths)) {
    const operation = operations[method.toLowerCase()];
    if (operation && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname)) return operation;
  }
  throw new Error(`No operation for ${method} ${pathname}`);
}

/** Validates a value against the row schema the host serves for a table (what the designer types fields with). */
async function expectRowSchema(table: string, purpose: 'read' | 'create' | 'update', value: unknown) {
  const { body } = await call('GET', `/api/dataverse/tables/${table}/schema?purpose=${purpose}`);
  const validate = ajv.compile(validatorSchema(body.schema as Schema, definition.definitions));
  expect(validate(value), `${table} ${purpose}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  return body.schema as Schema;
}

describe('Dataverse operations through the local host, as the signed-in maker', () => {
  it('lists the tables and a table’s columns from metadata', async () => {
    const tables = await call('GET', '/api/dataverse/tables');
    expect(tables.status).toBe(200);
    expect(tables.body.value).toContainEqual({
      logicalName: 'account',
      displayName: 'Account',
      entitySetName: 'accounts',
      primaryIdColumn: 'accountid',
      primaryNameColumn: 'name',
    });
    const columns = await call('GET', '/api/dataverse/tables/contact/columns');
    expect(columns.body.value).toContainEqual(
      expect.objectContaining({ logicalName: 'parentcustomerid', type: 'Customer', targets: ['account', 'contact'] }),
    );
    const account = await call('GET', '/api/dataverse/tables/account/columns');
    expect(account.body.value.find((c: { logicalName: string }) => c.logicalName === 'industrycode').options).toEqual([
      { value: 1, label: 'Accounting' },
      { value: 2, label: 'Agriculture and Non-petrol Natural Resource Extraction' },
    ]);
  });

  it('offers the environment’s tables in the trigger’s dropdown (ListTables), seen or not', async () => {
    const tables = await host.request('/api/tables');
    expect(tables.status).toBe(200);
    const { value } = (await tables.json()) as { value: unknown[] };
    expect(value).toEqual(
      expect.arrayContaining([
        { name: 'account', displayName: 'Account' },
        { name: 'contact', displayName: 'Contact' },
      ]),
    );
    const validate = ajv.compile(validatorSchema({ $ref: '#/definitions/TableList' }, definition.definitions));
    expect(validate({ value })).toBe(true);
  });

  it('serves typed row schemas: labels, choices as dropdowns, lookups, required columns', async () => {
    const create = await expectRowSchema('account', 'create', { name: 'Fabrikam', industrycode: 1, revenue: 12.5 });
    expect(create.required).toEqual(['name']);
    expect(create.properties?.name?.['x-ms-summary']).toBe('Account Name');
    expect(create.properties?.industrycode?.['x-ms-enum-values']).toEqual([
      { value: 1, displayName: 'Accounting' },
      { value: 2, displayName: 'Agriculture and Non-petrol Natural Resource Extraction' },
    ]);
    expect(create.properties?.createdon).toBeUndefined(); // not valid for create
    const contact = await expectRowSchema('contact', 'create', {
      parentcustomerid: { table: 'account', id: randomUUID() },
    });
    expect(contact.properties?.parentcustomerid?.properties?.table?.enum).toEqual(['account', 'contact']);
  });

  it('creates, reads, lists, updates and deletes rows, all as the maker', async () => {
    const before = dataverse.requests.length;
    const created = await call('POST', '/api/dataverse/tables/account/rows', {
      body: { name: 'Fabrikam', industrycode: 1, revenue: 1000, numberofemployees: 12 },
    });
    expect(created.status).toBe(201);
    const accountId = created.body.id as string;
    expect(created.headers.get('location')).toBe(`/api/dataverse/tables/account/rows/${accountId}`);

    const contact = await call('POST', '/api/dataverse/tables/contact/rows', {
      body: { fullname: 'Dana Birch', parentcustomerid: { table: 'account', id: accountId } },
    });
    expect(contact.status).toBe(201);
    const read = await call('GET', `/api/dataverse/tables/contact/rows/${contact.body.id}`);
    expect(read.body).toMatchObject({
      id: contact.body.id,
      fullname: 'Dana Birch',
      parentcustomerid: { id: accountId, table: 'account', name: 'Fabrikam' },
    });
    await expectRowSchema('contact', 'read', read.body);

    const account = await call('GET', `/api/dataverse/tables/account/rows/${accountId}?select=name,industrycode`);
    expect(account.body).toEqual({
      id: accountId,
      etag: expect.stringMatching(/^W\/"\d+"$/),
      name: 'Fabrikam',
      industrycode: { value: 1, label: 'Accounting' },
    });
    await expectRowSchema('account', 'read', account.body);

    const updated = await call('PATCH', `/api/dataverse/tables/account/rows/${accountId}`, {
      body: { name: 'Fabrikam Ltd' },
      headers: { 'If-Match': account.body.etag },
    });
    expect(updated).toMatchObject({ status: 200, body: { id: accountId } });
    expect(dataverse.row('account', accountId)?.name).toBe('Fabrikam Ltd');
    const stale = await call('PATCH', `/api/dataverse/tables/account/rows/${accountId}`, {
      body: { name: 'Lost update' },
      headers: { 'If-Match': account.body.etag },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: 'PreconditionFailed', target: 'If-Match' });

    const removed = await call('DELETE', `/api/dataverse/tables/contact/rows/${contact.body.id}`);
    expect(removed).toMatchObject({ status: 200, body: { id: contact.body.id, deleted: true } });
    const gone = await call('GET', `/api/dataverse/tables/contact/rows/${contact.body.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'RowNotFound', target: 'id' });

    // Every request the operations made reached Dataverse impersonating the maker.
    const made = dataverse.requests.slice(before);
    expect(made.length).toBeGreaterThan(0);
    expect(new Set(made.map((r) => r.callerObjectId))).toEqual(new Set([maker]));
  });

  it('lists with a filter, ordering, a count and paging through nextLink', async () => {
    const path =
      '/api/dataverse/tables/account/rows?select=name&filter=industrycode eq 2&orderby=name desc&top=2&count=true';
    const first = await call('GET', path);
    expect(first.status).toBe(200);
    expect(first.body.value.map((r: { name: string }) => r.name)).toEqual(['Cedar', 'Birch']);
    expect(first.body.count).toBe(3);
    expect(first.body.nextLink).toMatch(/continuation=/);
    const next = new URL(first.body.nextLink as string);
    expect(next.searchParams.get('code')).toBeNull();
    const second = await call('GET', `${next.pathname}${next.search}`);
    expect(second.body.value.map((r: { name: string }) => r.name)).toEqual(['Alpine']);
    expect(second.body.nextLink).toBeUndefined();
  });

  it('answers the caller’s mistakes and Dataverse’s refusals with the declared errors', async () => {
    const filter = await call('GET', '/api/dataverse/tables/account/rows?filter=name eq', {});
    expect(filter.status).toBe(400);
    expect(filter.body.error).toMatchObject({ code: 'DataverseBadRequest', target: 'filter' });
    expect(filter.body.error.message).toMatch(/^Dataverse: /);

    const table = await call('GET', '/api/dataverse/tables/nosuchtable/rows');
    expect(table.status).toBe(404);
    expect(table.body.error).toMatchObject({ code: 'TableNotFound', target: 'table' });

    const column = await call('POST', '/api/dataverse/tables/account/rows', { body: { nosuchcolumn: 1 } });
    expect(column.body.error).toMatchObject({ code: 'UnknownColumn', target: 'nosuchcolumn' });
    const lookup = await call('POST', '/api/dataverse/tables/contact/rows', {
      body: { parentcustomerid: { table: 'systemuser', id: randomUUID() } },
    });
    expect(lookup.body.error).toMatchObject({ code: 'InvalidLookup', target: 'parentcustomerid.table' });

    const denied = randomUUID();
    dataverse.deniedCallers.add(denied);
    const forbidden = await call('GET', '/api/dataverse/tables/account/rows', {
      bearer: entra.userToken(AUDIENCE, { oid: denied }),
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.message).toMatch(/missing prvReadAccount privilege/);

    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 7 }, { match: (r) => r.kind === 'list' });
    const throttled = await call('GET', '/api/dataverse/tables/account/rows');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');

    dataverse.inject({ kind: 'status', status: 503 }, { times: 5, match: (r) => r.kind === 'retrieve' });
    const down = await call('GET', `/api/dataverse/tables/account/rows/${randomUUID()}`);
    expect(down.status).toBe(503);
    expect(down.body.error.code).toBe('DataverseUnavailable');
  });
});

describe('who a Dataverse operation acts as', () => {
  it('refuses a function key alone, naming BRIDGE_DATAVERSE_APP_OPERATIONS', async () => {
    const refused = await call('GET', '/api/dataverse/tables', { bearer: null });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'UserIdentityRequired', target: 'Authorization' });
    expect(refused.body.error.message).toContain('BRIDGE_DATAVERSE_APP_OPERATIONS');
  });

  it('runs a function-key call as the application user when BRIDGE_DATAVERSE_APP_OPERATIONS is true', async () => {
    const before = dataverse.requests.length;
    const rows = await call('GET', '/api/dataverse/tables/account/rows?top=1', { bearer: null, on: appHost });
    expect(rows.status).toBe(200);
    const made = dataverse.requests.slice(before);
    expect(made.length).toBeGreaterThan(0);
    expect(made.every((r) => r.callerObjectId === undefined)).toBe(true);
  });

  it.each([
    ['expired', () => entra.userToken(AUDIENCE, { exp: Math.floor(Date.now() / 1000) - 3600 }), /expired/],
    ['for another audience', () => entra.userToken('api://other'), /audience/],
    ['of another tenant', () => entra.userToken(AUDIENCE, { tid: randomUUID() }), /tenant/],
    ['unsigned', () => entra.userToken(AUDIENCE, {}, 'none'), /RS256/],
    ['signed by another key', () => entra.userToken(AUDIENCE, {}, 'other-key'), /key the tenant publishes/],
  ])('answers 401 with WWW-Authenticate to a token %s, and never calls Dataverse', async (_, make, reason) => {
    const before = dataverse.requests.length;
    const refused = await call('GET', '/api/dataverse/tables', { bearer: make() });
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(reason);
    expect(refused.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="api:\/\/dataverse-bridge-tests", error="invalid_token"/,
    );
    expect(dataverse.requests.length).toBe(before);
  });

  it('keeps the bridge’s own operations working with the key, with or without a token', async () => {
    expect((await host.request('/api/jobs')).status).toBe(200);
    expect((await host.request('/api/jobs', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('validated a 2xx answer of every Dataverse operation against the served definition', () => {
    const all = Object.entries(definition.paths)
      .filter(([path]) => path.startsWith('/dataverse/'))
      .flatMap(([, operations]) => Object.values(operations).map((o) => o.operationId));
    expect([...validated].sort()).toEqual(all.sort());
  });
});
