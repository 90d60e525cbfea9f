/**
 * The Dataverse operations' function files, called in-process the way the Functions host calls them, against the
 * Dataverse double with the app's real client (key-only calls, BRIDGE_DATAVERSE_APP_OPERATIONS=true): the row shape
 * both ways, the typed row schemas, and every caller mistake answered 4xx with a target, never a 500.
 */
import { randomUUID } from 'node:crypto';
import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataverseRow } from '../../functions/createDataverseRow.js';
import { deleteDataverseRow } from '../../functions/deleteDataverseRow.js';
import { getDataverseRow } from '../../functions/getDataverseRow.js';
import { getDataverseTableSchema } from '../../functions/getDataverseTableSchema.js';
import { listDataverseColumns } from '../../functions/listDataverseColumns.js';
import { listDataverseRows } from '../../functions/listDataverseRows.js';
import { listDataverseTables } from '../../functions/listDataverseTables.js';
import { updateDataverseRow } from '../../functions/updateDataverseRow.js';
import { seedTables } from '../dataverseApi/helpers.js';
import { DataverseDouble } from '../doubles/dataverse.js';

let dataverse: DataverseDouble;
const saved = { ...process.env };
type Handler = (request: HttpRequest) => Promise<HttpResponseInit>;
const handlers: Record<string, Handler> = {};

beforeAll(async () => {
  dataverse = new DataverseDouble();
  seedTables(dataverse);
  await dataverse.start();
  Object.assign(process.env, {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    DATAVERSE_QUEUE_NAME: 'dataverse',
    AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_RETRY_BUDGET_SECONDS: '0',
    BRIDGE_DATAVERSE_APP_OPERATIONS: 'true',
  });
  Object.assign(handlers, {
    listDataverseTables,
    listDataverseColumns,
    getDataverseTableSchema,
    listDataverseRows,
    createDataverseRow,
    getDataverseRow,
    updateDataverseRow,
    deleteDataverseRow,
  });
});

afterAll(async () => {
  process.env = saved;
  await dataverse.stop();
});

async function invoke(
  name: string,
  path: string,
  init: { method?: string; params?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {},
  // biome-ignore lint/suspicious/noExplicitAny: answers are plain JSON checked field by field
): Promise<{ status: number; body: any; headers: Record<string, string> }> {
  const request = new HttpRequest({
    method: init.method ?? 'GET',
    url: `http://localhost${path}`,
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    params: init.params ?? {},
    ...(init.body === undefined ? {} : { body: { string: JSON.stringify(init.body) } }),
  });
  const answer = await (handlers[name] as Handler)(request);
  return {
    status: answer.status ?? 200,
    body: answer.jsonBody,
    headers: (answer.headers ?? {}) as Record<string, string>,
  };
}

describe('the Dataverse operations in-process', () => {
  it('round-trips a row: lookups and choices in the plain shape, written as @odata.bind', async () => {
    const account = await invoke('createDataverseRow', '/api/dataverse/tables/account/rows', {
      method: 'POST',
      params: { table: 'account' },
      body: { name: 'Northwind', industrycode: { value: 2 }, statecode: 0 },
    });
    expect(account.status).toBe(201);
    const contact = await invoke('createDataverseRow', '/api/dataverse/tables/contact/rows', {
      method: 'POST',
      params: { table: 'contact' },
      body: { fullname: 'Ada', parentcustomerid: { table: 'account', id: account.body.id } },
    });
    expect(contact.status).toBe(201);
    // The Web API got the navigation property the double knows for this lookup.
    expect(dataverse.row('contact', contact.body.id)?._parentcustomerid_value).toBe(account.body.id);

    const read = await invoke('getDataverseRow', '/api/dataverse/tables/account/rows/x', {
      params: { table: 'account', id: account.body.id },
    });
    expect(read.body).toMatchObject({
      id: account.body.id,
      name: 'Northwind',
      industrycode: { value: 2, label: 'Agriculture and Non-petrol Natural Resource Extraction' },
      statecode: { value: 0, label: 'Active' },
    });

    const updated = await invoke('updateDataverseRow', '/x', {
      method: 'PATCH',
      params: { table: 'account', id: account.body.id },
      body: { numberofemployees: 40 },
    });
    expect(updated).toMatchObject({ status: 200, body: { id: account.body.id } });
    const listed = await invoke(
      'listDataverseRows',
      '/api/dataverse/tables/account/rows?select=name,primarycontactid',
      {
        params: { table: 'account' },
      },
    );
    expect(listed.body.value).toContainEqual({
      id: account.body.id,
      etag: expect.any(String),
      name: 'Northwind',
      primarycontactid: null,
    });
    const deleted = await invoke('deleteDataverseRow', '/x', {
      method: 'DELETE',
      params: { table: 'contact', id: contact.body.id },
    });
    expect(deleted.body).toEqual({ id: contact.body.id, deleted: true });
  });

  it('types row schemas from metadata for each purpose', async () => {
    const schema = async (purpose: string) =>
      (
        await invoke('getDataverseTableSchema', `/api/dataverse/tables/account/schema?purpose=${purpose}`, {
          params: { table: 'account' },
        })
      ).body.schema;
    const read = await schema('read');
    expect(read.properties.revenue).toMatchObject({
      type: 'number',
      'x-ms-summary': 'Annual Revenue',
      'x-nullable': true,
    });
    expect(read.properties.createdon).toMatchObject({ type: 'string', format: 'date-time' });
    expect(read.properties.primarycontactid.properties.name['x-ms-summary']).toBe('Primary Contact Name');
    expect(read.properties.industrycode.properties.label.type).toBe('string');
    const update = await schema('update');
    expect(update.properties.createdon).toBeUndefined();
    expect(update.required).toBeUndefined();
    expect(update.properties.ownerid.properties.table.enum).toEqual(['systemuser', 'team']);
    const bad = await invoke('getDataverseTableSchema', '/x?purpose=delete', { params: { table: 'account' } });
    expect(bad.body.error).toMatchObject({ code: 'InvalidParameter', target: 'purpose' });
  });

  it('lists tables and columns', async () => {
    const tables = await invoke('listDataverseTables', '/api/dataverse/tables');
    expect(tables.body.value.map((t: { logicalName: string }) => t.logicalName)).toEqual(['account', 'contact']);
    const columns = await invoke('listDataverseColumns', '/x', { params: { table: 'contact' } });
    expect(columns.body.value.map((c: { logicalName: string }) => c.logicalName)).toEqual([
      'contactid',
      'cr6d1_sponsorid',
      'fullname',
      'parentcustomerid',
    ]);
    const missing = await invoke('listDataverseColumns', '/x', { params: { table: 'nosuch' } });
    expect(missing.status).toBe(404);
  });

  it.each([
    ['listDataverseRows', '/x?top=0', { table: 'account' }, undefined, 'top'],
    ['listDataverseRows', '/x?count=maybe', { table: 'account' }, undefined, 'count'],
    ['listDataverseRows', '/x?select=Name!', { table: 'account' }, undefined, 'select'],
    ['listDataverseRows', '/x?continuation=bm9wZQ', { table: 'account' }, undefined, 'continuation'],
    ['listDataverseRows', '/x', { table: 'Bad-Name' }, undefined, 'table'],
    ['getDataverseRow', '/x', { table: 'account', id: 'not-a-guid' }, undefined, 'id'],
    ['createDataverseRow', '/x', { table: 'account' }, [1, 2], 'body'],
    ['createDataverseRow', '/x', { table: 'account' }, { createdon: '2026-01-01T00:00:00Z' }, 'createdon'],
    ['createDataverseRow', '/x', { table: 'account' }, { primarycontactid: { id: 'nope' } }, 'primarycontactid'],
    ['createDataverseRow', '/x', { table: 'account' }, { ownerid: { id: randomUUID() } }, 'ownerid.table'],
  ])('%s %s answers 400 with target %s', async (name, path, params, body, target) => {
    const answer = await invoke(name, path, {
      method: name === 'createDataverseRow' ? 'POST' : 'GET',
      params,
      ...(body === undefined ? {} : { body }),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.target).toBe(target);
  });

  it('binds lookups through the navigation property metadata names: per target of a customer, a custom one’s schema name', async () => {
    const [account] = dataverse.seedRows('account', [{ name: 'Contoso' }]) as [string];
    const [colleague] = dataverse.seedRows('contact', [{ fullname: 'Cy' }]) as [string];
    const created = await invoke('createDataverseRow', '/x', {
      method: 'POST',
      params: { table: 'contact' },
      body: {
        fullname: 'Di',
        parentcustomerid: { table: 'contact', id: colleague },
        cr6d1_sponsorid: { table: 'account', id: account },
      },
    });
    expect(created.status).toBe(201);
    // The double accepts a binding only under the relationship's navigation property, to a row of its table.
    expect(dataverse.row('contact', created.body.id)).toMatchObject({
      _parentcustomerid_value: colleague,
      '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
      _cr6d1_sponsorid_value: account,
    });
    const updated = await invoke('updateDataverseRow', '/x', {
      method: 'PATCH',
      params: { table: 'contact', id: created.body.id },
      body: { parentcustomerid: { table: 'account', id: account } },
    });
    expect(updated.status).toBe(200);
    const read = await invoke('getDataverseRow', '/x', { params: { table: 'contact', id: created.body.id } });
    expect(read.body).toMatchObject({
      parentcustomerid: { id: account, table: 'account', name: 'Contoso' },
      cr6d1_sponsorid: { id: account, table: 'account', name: 'Contoso' },
    });

    // null clears a lookup: a customer's through the navigation property of the table it points to now, read first.
    const before = dataverse.requests.length;
    const cleared = await invoke('updateDataverseRow', '/x', {
      method: 'PATCH',
      params: { table: 'contact', id: created.body.id },
      body: { parentcustomerid: null, cr6d1_sponsorid: null },
    });
    expect(cleared.status).toBe(200);
    const sent = dataverse.requests.slice(before);
    expect(sent.map((r) => [r.kind, r.query.$select ?? null])).toEqual([
      ['retrieve', '_parentcustomerid_value'],
      ['update', null],
    ]);
    const after = await invoke('getDataverseRow', '/x', { params: { table: 'contact', id: created.body.id } });
    expect(after.body).toMatchObject({ fullname: 'Di', parentcustomerid: null, cr6d1_sponsorid: null });
    // On create, null leaves the lookup empty.
    const empty = await invoke('createDataverseRow', '/x', {
      method: 'POST',
      params: { table: 'contact' },
      body: { fullname: 'Ed', parentcustomerid: null },
    });
    expect(empty.status).toBe(201);
    expect(dataverse.row('contact', empty.body.id)?._parentcustomerid_value).toBeUndefined();
  });

  it('reads a single-target lookup without its table, and reports unknown rows', async () => {
    const contact = dataverse.seedRows('contact', [{ fullname: 'Bo' }])[0] as string;
    const created = await invoke('createDataverseRow', '/x', {
      method: 'POST',
      params: { table: 'account' },
      body: { name: 'Tailspin', primarycontactid: { id: contact } },
    });
    const read = await invoke('getDataverseRow', '/x', { params: { table: 'account', id: created.body.id } });
    expect(read.body.primarycontactid).toEqual({ id: contact, table: 'contact', name: 'Bo' });
    const gone = await invoke('deleteDataverseRow', '/x', {
      method: 'DELETE',
      params: { table: 'account', id: randomUUID() },
    });
    expect(gone.status).toBe(404);
  });
});
