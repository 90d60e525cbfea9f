/**
 * The Web API client against the local Dataverse double, with no credential (local mode): every capability, the
 * retry rules with an injected clock, timeouts, typed errors, impersonation and the metadata cache.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataverseRequestError, DataverseUnavailableError } from '../../shared/dataverseApi/errors.js';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { DataverseDouble, failure, fakeClock, seedTables } from './helpers.js';

let dataverse: DataverseDouble;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  seedTables(dataverse);
  await dataverse.start();
});

afterAll(async () => {
  await dataverse.stop();
});

function client(options: Partial<ConstructorParameters<typeof DataverseTransport>[0]> = {}) {
  const clock = fakeClock();
  const logs: string[] = [];
  const transport = new DataverseTransport({
    url: dataverse.url,
    timeoutMs: 5_000,
    retryBudgetMs: 60_000,
    clock,
    log: (line) => logs.push(line),
    ...options,
  });
  return { api: new WebApiClient(transport), clock, logs };
}

describe('WebApiClient: capabilities', () => {
  it('answers WhoAmI with the user, business unit and organization, and sends no token in local mode', async () => {
    const { api } = client();
    const me = await api.whoAmI();
    expect(me).toEqual({
      userId: dataverse.defaultUserId,
      businessUnitId: dataverse.businessUnitId,
      organizationId: dataverse.organizationId,
    });
    const last = dataverse.requests.at(-1);
    expect(last?.path).toBe('/api/data/v9.2/WhoAmI');
    expect(last?.bearer).toBe(false);
  });

  it('reads a table definition with its columns, lookup targets and choice labels', async () => {
    const { api } = client();
    const account = await api.getTable('account');
    expect(account).toMatchObject({
      logicalName: 'account',
      displayName: 'Account',
      entitySetName: 'accounts',
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      changeTrackingEnabled: true,
    });
    const column = (name: string) => account.columns.find((c) => c.logicalName === name);
    expect(column('name')).toEqual({
      logicalName: 'name',
      displayName: 'Account Name',
      type: 'String',
      requiredLevel: 'ApplicationRequired',
      validForCreate: true,
      validForUpdate: true,
      validForRead: true,
    });
    expect(column('primarycontactid')?.targets).toEqual(['contact']);
    expect(column('ownerid')?.targets).toEqual(['systemuser', 'team']);
    expect(column('industrycode')?.options).toEqual([
      { value: 1, label: 'Accounting' },
      { value: 2, label: 'Agriculture and Non-petrol Natural Resource Extraction' },
    ]);
    expect(column('statecode')?.options?.map((o) => o.label)).toEqual(['Active', 'Inactive']);
    expect(column('createdon')).toMatchObject({ validForCreate: false, validForUpdate: false, type: 'DateTime' });
    expect(column('name')?.targets).toBeUndefined();
  });

  it('creates (204 + OData-EntityId, or 201 with the row), retrieves with $select, updates, upserts and deletes', async () => {
    const { api } = client();
    const { id } = await api.create('account', { name: 'Fourth Coffee', numberofemployees: 12 });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(dataverse.row('account', id)).toMatchObject({ name: 'Fourth Coffee' });

    const created = await api.create('account', { name: 'Litware' }, { returnRow: true });
    expect(created.row).toMatchObject({ name: 'Litware', accountid: created.id });
    expect(dataverse.requests.at(-1)?.prefer).toBe('return=representation');

    const row = await api.retrieve('account', id, { select: ['name'] });
    expect(row.name).toBe('Fourth Coffee');
    expect(row.numberofemployees).toBeUndefined();
    expect(row['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(dataverse.requests.at(-1)?.query.$select).toBe('name');

    await api.update('account', id, { name: 'Fourth Coffee Ltd' });
    expect(dataverse.requests.at(-1)?.ifMatch).toBe('*');
    expect(dataverse.row('account', id)?.name).toBe('Fourth Coffee Ltd');

    const fresh = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    await api.upsert('account', fresh, { name: 'Upserted' });
    expect(dataverse.row('account', fresh)?.name).toBe('Upserted');
    await api.upsert('account', fresh, { name: 'Upserted twice' });
    expect(dataverse.row('account', fresh)?.name).toBe('Upserted twice');
    expect(dataverse.requests.at(-1)?.ifMatch).toBeUndefined();

    await api.delete('account', fresh);
    expect(dataverse.row('account', fresh)).toBeUndefined();
  });

  it('updates on a matching ETag and refuses a stale one with a permanent 412', async () => {
    const { api } = client();
    const { id } = await api.create('account', { name: 'Versioned' });
    const first = await api.retrieve('account', id, { select: ['name'] });
    await api.update('account', id, { name: 'v2' }, { etag: first['@odata.etag'] as string });
    const stale = await failure(api.update('account', id, { name: 'v3' }, { etag: first['@odata.etag'] as string }));
    expect(stale).toBeInstanceOf(DataverseRequestError);
    expect(stale).toMatchObject({
      code: 'DataversePreconditionFailed',
      status: 412,
      dataverseCode: '0x80060882',
      transient: false,
    });
    expect(dataverse.row('account', id)?.name).toBe('v2');
  });

  it('lists with $select, $filter, $orderby, $top and $count, and pages through @odata.nextLink', async () => {
    const { api } = client();
    const names = ['Paging A', 'Paging B', 'Paging C', 'Paging D', 'Paging E'];
    dataverse.seedRows(
      'account',
      names.map((name, i) => ({ name, numberofemployees: 100 + i })),
    );
    const first = await api.list('account', {
      select: ['name', 'numberofemployees'],
      filter: "startswith(name,'Paging') and numberofemployees ge 101",
      orderBy: ['numberofemployees desc'],
      count: true,
      pageSize: 2,
    });
    expect(dataverse.requests.at(-1)?.prefer).toBe('odata.maxpagesize=2');
    expect(first.count).toBe(4);
    expect(first.rows.map((r) => r.name)).toEqual(['Paging E', 'Paging D']);
    expect(first.nextLink).toContain('$skiptoken=');
    const second = await api.nextPage(first.nextLink as string);
    expect(second.rows.map((r) => r.name)).toEqual(['Paging C', 'Paging B']);
    expect(second.nextLink).toBeUndefined();
    expect(dataverse.requests.at(-1)?.query).toMatchObject({
      $filter: "startswith(name,'Paging') and numberofemployees ge 101",
    });

    const top = await api.list('account', {
      select: ['name'],
      filter: "startswith(name,'Paging')",
      orderBy: ['name'],
      top: 2,
    });
    expect(top.rows.map((r) => r.name)).toEqual(['Paging A', 'Paging B']);
    expect(top.count).toBeUndefined();
  });

  it('refuses to follow a link to another host, so the token never leaves the environment', async () => {
    const { api } = client();
    const before = dataverse.count();
    const error = await failure(api.nextPage('https://attacker.example/api/data/v9.2/accounts?$skiptoken=x'));
    expect(error).toMatchObject({ code: 'DataverseBadLink', transient: false });
    expect(dataverse.count()).toBe(before);
  });

  it('tracks changes: all rows then a delta link; following it gives new, updated and deleted rows', async () => {
    const { api } = client();
    const start = await api.trackChanges('account', { select: ['name'] });
    expect(dataverse.requests.at(-1)?.prefer).toBe('odata.track-changes');
    expect(start.changes.length).toBeGreaterThan(0);
    expect(start.changes.every((c) => c.kind === 'upsert')).toBe(true);
    expect(start.deltaLink).toContain('$deltatoken=');

    const { id: created } = await api.create('account', { name: 'Tracked new' });
    const updatedId = start.changes[0]?.id as string;
    await api.update('account', updatedId, { name: 'Tracked update' });
    const { id: doomed } = await api.create('account', { name: 'Tracked doomed' });
    await api.delete('account', doomed);

    const next = await api.nextChanges('account', start.deltaLink as string);
    const upserts = next.changes.filter((c) => c.kind === 'upsert');
    expect(upserts.map((c) => c.id).sort()).toEqual([created, updatedId].sort());
    expect(upserts.find((c) => c.id === updatedId)).toMatchObject({ row: { name: 'Tracked update' } });
    expect(next.changes.filter((c) => c.kind === 'delete')).toEqual([{ kind: 'delete', id: doomed }]);
    expect(next.deltaLink).toBeDefined();

    const quiet = await api.nextChanges('account', next.deltaLink as string);
    expect(quiet.changes).toEqual([]);
  });

  it('pages the first change-tracking round and gives the delta link on its last page', async () => {
    const { api } = client();
    const first = await api.trackChanges('account', { select: ['name'], pageSize: 3 });
    expect(first.nextLink).toBeDefined();
    expect(first.deltaLink).toBeUndefined();
    let page = first;
    let seen = first.changes.length;
    while (page.nextLink) {
      page = await api.nextChanges('account', page.nextLink);
      seen += page.changes.length;
    }
    expect(page.deltaLink).toBeDefined();
    expect(seen).toBe((await api.list('account', { select: ['name'] })).rows.length);
  });

  it('says when change tracking is off for a table, without a request', async () => {
    const { api } = client();
    await api.getTable('contact');
    const before = dataverse.count();
    const error = await failure(api.trackChanges('contact'));
    expect(error).toMatchObject({ code: 'DataverseChangeTrackingOff', transient: false });
    expect(error.message).toContain('Track changes');
    expect(dataverse.count()).toBe(before);
  });

  it('impersonates by Entra object id with the CallerObjectId header', async () => {
    const { api } = client();
    const user = '7d9c2e55-0b0a-4f7b-9a7e-2d7a2c6c1f10';
    const { id } = await api.as(user).create('account', { name: 'Made for a user' });
    const create = dataverse.requests.at(-1);
    expect(create?.kind).toBe('create');
    expect(create?.callerObjectId).toBe(user);
    await api.retrieve('account', id);
    expect(dataverse.requests.at(-1)?.callerObjectId).toBeUndefined();
    expect(() => api.as('not-a-guid')).toThrow(/not a GUID/);
  });
});

describe('WebApiClient: the metadata cache', () => {
  it('makes no request for a second lookup and one set of requests for concurrent first lookups', async () => {
    const { api } = client();
    const before = dataverse.count('metadata');
    const [a, b, c] = await Promise.all([api.getTable('contact'), api.getTable('contact'), api.getTable('contact')]);
    const perLoad = dataverse.count('metadata') - before;
    // The definition with its columns, lookups, many-to-one relationships, and four kinds of choices.
    expect(perLoad).toBe(7);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(a.columns.find((col) => col.logicalName === 'parentcustomerid')?.targets).toEqual(['account', 'contact']);
    await api.getTable('contact');
    await api.retrieve('contact', (await api.create('contact', { fullname: 'Cached' })).id);
    expect(dataverse.count('metadata') - before).toBe(perLoad);
  });

  it('takes each lookup’s navigation property per target table from the many-to-one relationships', async () => {
    const { api } = client();
    const contact = await api.getTable('contact');
    const navigation = Object.fromEntries(contact.columns.map((c) => [c.logicalName, c.navigation]));
    expect(navigation).toEqual({
      contactid: undefined,
      fullname: undefined,
      // A customer lookup: one navigation property per table it can point to.
      parentcustomerid: { account: 'parentcustomerid_account', contact: 'parentcustomerid_contact' },
      // A custom lookup: bound by its schema name, which no convention on the logical name gives.
      cr6d1_sponsorid: { account: 'cr6d1_SponsorId' },
    });
    const asked = dataverse.requests.find((r) => r.path.endsWith("(LogicalName='contact')/ManyToOneRelationships"));
    expect(asked?.query.$select).toBe('ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName');
  });

  it('loads again after the time-to-live, and does not keep a failed load', async () => {
    let now = 0;
    const transport = new DataverseTransport({
      url: dataverse.url,
      timeoutMs: 5_000,
      retryBudgetMs: 0,
      clock: fakeClock(),
    });
    const api = new WebApiClient(transport, { metadataTtlMs: 1_000, now: () => now });
    const before = dataverse.count('metadata');
    await api.getTable('contact');
    now = 500;
    await api.getTable('contact');
    expect(dataverse.count('metadata') - before).toBe(7);
    now = 1_500;
    await api.getTable('contact');
    expect(dataverse.count('metadata') - before).toBe(14);

    const missing = await failure(api.getTable('nosuchtable'));
    expect(missing).toMatchObject({ code: 'DataverseNotFound', status: 404, transient: false });
    const again = dataverse.count('metadata');
    await failure(api.getTable('nosuchtable'));
    expect(dataverse.count('metadata')).toBeGreaterThan(again);
  });
});

describe('WebApiClient: errors', () => {
  it('turns Dataverse error bodies into permanent errors naming the cause', async () => {
    const { api } = client();
    const badColumn = await failure(api.list('account', { filter: "nosuchcolumn eq 'x'" }));
    expect(badColumn).toBeInstanceOf(DataverseRequestError);
    expect(badColumn).toMatchObject({
      code: 'DataverseBadRequest',
      status: 400,
      dataverseCode: '0x0',
      transient: false,
    });
    expect(badColumn.message).toContain("Could not find a property named 'nosuchcolumn'");

    const badSyntax = await failure(api.list('account', { filter: 'name eq' }));
    expect(badSyntax).toMatchObject({ status: 400, dataverseCode: '0x80060888' });

    const missing = await failure(api.retrieve('account', '00000000-0000-0000-0000-000000000001'));
    expect(missing).toMatchObject({ code: 'DataverseNotFound', status: 404, dataverseCode: '0x80040217' });
    const notForCreate = await failure(api.create('account', { createdon: '2020-01-01T00:00:00Z' }));
    expect(notForCreate).toMatchObject({ status: 400, transient: false });
  });

  it('validates names and ids before sending anything', async () => {
    const { api } = client();
    await api.getTable('account');
    const before = dataverse.count();
    await expect(api.retrieve('account', "x') or true")).rejects.toMatchObject({ code: 'DataverseBadArgument' });
    await expect(api.list('account', { select: ['name,revenue'] })).rejects.toMatchObject({
      code: 'DataverseBadArgument',
    });
    await expect(api.getTable("account'")).rejects.toMatchObject({ code: 'DataverseBadArgument' });
    await expect(api.list('account', { top: 0 })).rejects.toMatchObject({ code: 'DataverseBadArgument' });
    expect(dataverse.count()).toBe(before);
  });
});

describe('DataverseTransport: retries', () => {
  beforeEach(async () => {
    await client().api.getTable('account');
  });

  it('waits the Retry-After a 429 carries, then succeeds', async () => {
    const { api, clock, logs } = client();
    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 7 }, { times: 2 });
    const before = dataverse.count('whoAmI');
    await api.whoAmI();
    expect(dataverse.count('whoAmI') - before).toBe(3);
    expect(clock.slept).toEqual([7_000, 7_000]);
    expect(logs[0]).toContain('DataverseThrottled on WhoAmI; retrying in 7000 ms');
  });

  it('retries a throttled create too (a 429 was not processed)', async () => {
    const { api, clock } = client();
    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 1, code: '0x80072326' });
    const { id } = await api.create('account', { name: 'After throttling' });
    expect(dataverse.row('account', id)?.name).toBe('After throttling');
    expect(clock.slept).toEqual([1_000]);
  });

  it('gives up with a transient error carrying Retry-After when the wait would overrun the budget', async () => {
    const { api, clock } = client({ retryBudgetMs: 10_000 });
    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 4 }, { times: 5 });
    const error = await failure(api.whoAmI());
    expect(error).toBeInstanceOf(DataverseUnavailableError);
    expect(error).toMatchObject({
      code: 'DataverseThrottled',
      status: 429,
      dataverseCode: '0x80072322',
      transient: true,
      retryAfterSeconds: 4,
    });
    expect(error.message).toContain('Gave up after 3 attempts');
    expect(clock.slept).toEqual([4_000, 4_000]);
    // Drain what is left of the injected faults.
    dataverse.inject({ kind: 'delay', ms: 0 });
    await client({ retryBudgetMs: 600_000 }).api.whoAmI();
  });

  it('backs off exponentially with jitter, capped, on 5xx and dropped connections', async () => {
    const { api, clock } = client({ backoffBaseMs: 100, backoffCapMs: 400 });
    dataverse.inject({ kind: 'status', status: 503 }, { times: 2 });
    dataverse.inject({ kind: 'drop' }, { times: 1 });
    dataverse.inject({ kind: 'status', status: 500 }, { times: 2 });
    const before = dataverse.count('whoAmI');
    await api.whoAmI();
    expect(dataverse.count('whoAmI') - before).toBe(6);
    // random() = 0.5 of min(cap, base * 2^(n-1)): 50, 100, 200, 200, 200.
    expect(clock.slept).toEqual([50, 100, 200, 200, 200]);
  });

  it('ends a 5xx run with a transient error when the budget is spent, and never repeats a failed create', async () => {
    const { api, clock } = client({ retryBudgetMs: 600, backoffBaseMs: 1_000, backoffCapMs: 1_000 });
    dataverse.inject({ kind: 'status', status: 503 }, { times: 2 });
    const error = await failure(api.whoAmI());
    expect(error).toMatchObject({ code: 'DataverseUnavailable', status: 503, transient: true });
    expect(error.message).toContain('Gave up after 2 attempts');
    expect(clock.slept).toEqual([500]);

    const { api: creator } = client();
    dataverse.inject({ kind: 'status', status: 503 }, { match: (r) => r.kind === 'create' });
    const before = dataverse.count('create');
    const createError = await failure(creator.create('account', { name: 'Maybe' }));
    expect(createError).toMatchObject({ code: 'DataverseUnavailable', transient: true });
    expect(dataverse.count('create') - before).toBe(1);
  });

  it('times a slow request out and retries it', async () => {
    const { api, logs } = client({ timeoutMs: 150 });
    dataverse.inject({ kind: 'delay', ms: 1_000 });
    const before = dataverse.count('whoAmI');
    await api.whoAmI();
    expect(dataverse.count('whoAmI') - before).toBe(2);
    expect(logs[0]).toContain('DataverseTimeout');
  });

  it('reports a timeout as transient when retries cannot help', async () => {
    const { api } = client({ timeoutMs: 150, retryBudgetMs: 0 });
    dataverse.inject({ kind: 'delay', ms: 1_000 });
    const error = await failure(api.whoAmI());
    expect(error).toMatchObject({ code: 'DataverseTimeout', transient: true });
    expect(error.message).toContain('150 ms');
  });

  it('reports an unreachable environment as transient', async () => {
    const transport = new DataverseTransport({
      url: 'http://127.0.0.1:9',
      timeoutMs: 1_000,
      retryBudgetMs: 0,
      clock: fakeClock(),
    });
    const error = await failure(new WebApiClient(transport).whoAmI());
    expect(error).toMatchObject({ code: 'DataverseUnreachable', transient: true });
    expect(error.message).toContain('127.0.0.1:9');
  });
});
