/**
 * The Dataverse double itself, spoken to with plain fetch, checked against the shapes Microsoft Learn documents (the
 * pages listed in its header), so the suites that reuse it test against the service's contract and not the client's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseDouble } from './dataverse.js';

let dataverse: DataverseDouble;
let api: string;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  dataverse.seedTable({
    logicalName: 'account',
    changeTracking: true,
    columns: [{ logicalName: 'name', type: 'String' }],
  });
  await dataverse.start();
  api = `${dataverse.url}/api/data/v9.2/`;
});

afterAll(async () => {
  await dataverse.stop();
});

/** The answer's JSON, typed loosely: the tests assert its shape. */
async function read(
  response: Response,
): Promise<{ error: { code: string; message: string } } & Record<string, unknown>> {
  return (await response.json()) as { error: { code: string; message: string } } & Record<string, unknown>;
}

const json = { 'Content-Type': 'application/json', 'OData-Version': '4.0', Accept: 'application/json' };

describe('the Dataverse double', () => {
  it('creates with 204 and OData-EntityId, or 201 and the row with return=representation', async () => {
    const created = await fetch(`${api}accounts`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'A' }),
    });
    expect(created.status).toBe(204);
    expect(created.headers.get('odata-entityid')).toMatch(/\/api\/data\/v9\.2\/accounts\([0-9a-f-]{36}\)$/);
    const represented = await fetch(`${api}accounts?$select=name`, {
      method: 'POST',
      headers: { ...json, Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'B' }),
    });
    expect(represented.status).toBe(201);
    const body = await read(represented);
    expect(body).toMatchObject({ name: 'B', '@odata.etag': expect.stringMatching(/^W\/"\d+"$/) });
    expect(body['@odata.context']).toContain('$metadata#accounts/$entity');
  });

  it('serves many-to-one relationships and binds a lookup only through their navigation properties', async () => {
    const double = new DataverseDouble();
    double.seedTable({ logicalName: 'account', columns: [{ logicalName: 'name', type: 'String' }] });
    double.seedTable({
      logicalName: 'contact',
      primaryNameAttribute: 'fullname',
      columns: [
        { logicalName: 'parentcustomerid', type: 'Customer', targets: ['account', 'contact'] },
        {
          logicalName: 'cr6d1_sponsorid',
          type: 'Lookup',
          targets: ['account'],
          navigation: { account: 'cr6d1_SponsorId' },
        },
      ],
    });
    await double.start();
    try {
      const base = `${double.url}/api/data/v9.2/`;
      const select = 'ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName';
      const answer = await read(
        await fetch(`${base}EntityDefinitions(LogicalName='contact')/ManyToOneRelationships?$select=${select}`, {
          headers: json,
        }),
      );
      expect(answer['@odata.context']).toContain("$metadata#EntityDefinitions('contact')/ManyToOneRelationships");
      expect((answer.value as Array<Record<string, unknown>>).map(({ MetadataId, ...rest }) => rest)).toEqual([
        {
          ReferencingAttribute: 'parentcustomerid',
          ReferencedEntity: 'account',
          ReferencingEntityNavigationPropertyName: 'parentcustomerid_account',
        },
        {
          ReferencingAttribute: 'parentcustomerid',
          ReferencedEntity: 'contact',
          ReferencingEntityNavigationPropertyName: 'parentcustomerid_contact',
        },
        {
          ReferencingAttribute: 'cr6d1_sponsorid',
          ReferencedEntity: 'account',
          ReferencingEntityNavigationPropertyName: 'cr6d1_SponsorId',
        },
      ]);
      const [account] = double.seedRows('account', [{ name: 'A' }]) as [string];
      const create = (body: Record<string, unknown>) =>
        fetch(`${base}contacts`, { method: 'POST', headers: json, body: JSON.stringify(body) });
      // The lookup's logical name, or the navigation name in another case, is not a navigation property.
      for (const name of ['cr6d1_sponsorid', 'cr6d1_sponsorId', 'parentcustomerid']) {
        const refused = await create({ [`${name}@odata.bind`]: `/accounts(${account})` });
        expect(refused.status, name).toBe(400);
        expect((await read(refused)).error.message).toBe(
          `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload.`,
        );
      }
      // A navigation property binds rows of its own table only.
      const wrongTable = await create({ 'parentcustomerid_contact@odata.bind': `/accounts(${account})` });
      expect(wrongTable.status).toBe(400);
      const bound = await create({
        'cr6d1_SponsorId@odata.bind': `/accounts(${account})`,
        'parentcustomerid_account@odata.bind': `/accounts(${account})`,
      });
      expect(bound.status).toBe(204);
      const id = /\(([0-9a-f-]{36})\)$/.exec(bound.headers.get('odata-entityid') ?? '')?.[1] as string;
      expect(double.row('contact', id)).toMatchObject({
        _cr6d1_sponsorid_value: account,
        _parentcustomerid_value: account,
      });

      // null through the navigation property disassociates.
      const cleared = await fetch(`${base}contacts(${id})`, {
        method: 'PATCH',
        headers: { ...json, 'If-Match': '*' },
        body: JSON.stringify({ 'parentcustomerid_account@odata.bind': null }),
      });
      expect(cleared.status).toBe(204);
      expect(double.row('contact', id)?._parentcustomerid_value).toBeNull();
      expect(double.row('contact', id)?._cr6d1_sponsorid_value).toBe(account);
    } finally {
      await double.stop();
    }
  });

  it('answers errors with the documented body and codes', async () => {
    const segment = await fetch(`${api}Account`, { headers: json });
    expect(segment.status).toBe(404);
    expect(await read(segment)).toEqual({
      error: { code: '0x8006088a', message: "Resource not found for the segment 'Account'." },
    });
    const property = await fetch(`${api}accounts?$select=Name`, { headers: json });
    expect(property.status).toBe(400);
    expect((await read(property)).error).toEqual({
      code: '0x0',
      message: "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'.",
    });
    const id = '00000000-0000-0000-0000-0000000000aa';
    const upsertOnly = await fetch(`${api}accounts(${id})`, {
      method: 'PATCH',
      headers: { ...json, 'If-None-Match': '*' },
      body: JSON.stringify({ name: 'C' }),
    });
    expect(upsertOnly.status).toBe(204); // If-None-Match only prevents an update: the row is created
    const again = await fetch(`${api}accounts(${id})`, {
      method: 'PATCH',
      headers: { ...json, 'If-None-Match': '*' },
      body: JSON.stringify({ name: 'D' }),
    });
    expect(again.status).toBe(412);
    expect((await read(again)).error.code).toBe('0x80040237');
    // What the double does not serve is a 501 naming the request, never a silent success.
    const unsupported = await fetch(`${api}accounts/$count`, { headers: json });
    expect(unsupported.status).toBe(501);
    expect((await read(unsupported)).error.message).toBe('The test double does not serve GET accounts/$count.');
  });

  it('refuses $filter, $orderby and $top with change tracking, with the documented message', async () => {
    for (const option of ['$top=1', "$filter=name eq 'A'", '$orderby=name']) {
      const response = await fetch(`${api}accounts?${option}`, { headers: { ...json, Prefer: 'odata.track-changes' } });
      expect(response.status).toBe(400);
      const name = option.split('=')[0];
      expect((await read(response)).error.message).toBe(
        `The "${name}" query parameter isn't supported when Change Tracking is enabled.`,
      );
    }
  });

  it('answers 429 with Retry-After and the service protection code, then serves again; records CallerObjectId', async () => {
    dataverse.inject({ kind: 'throttle', retryAfterSeconds: 3, code: '0x80072321' });
    const throttled = await fetch(`${api}WhoAmI`, { headers: { ...json, CallerObjectId: 'abc' } });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('3');
    expect((await read(throttled)).error.code).toBe('0x80072321');
    const served = await fetch(`${api}WhoAmI`, { headers: json });
    expect(served.status).toBe(200);
    expect(await read(served)).toMatchObject({
      UserId: dataverse.defaultUserId,
      OrganizationId: dataverse.organizationId,
    });
    expect(dataverse.requests.at(-2)).toMatchObject({ kind: 'whoAmI', status: 429, callerObjectId: 'abc' });
  });

  it('answers the faults its policy picks (a 503, a request held past the client timeout) and serves the rest', async () => {
    const picks = [{ kind: 'status', status: 503 } as const, { kind: 'delay', ms: 300 } as const, undefined];
    dataverse.faultPolicy = () => picks.shift();
    try {
      const unavailable = await fetch(`${api}WhoAmI`, { headers: json });
      expect(unavailable.status).toBe(503);
      expect((await read(unavailable)).error.code).toBe('0x80040216');
      await expect(fetch(`${api}WhoAmI`, { headers: json, signal: AbortSignal.timeout(100) })).rejects.toThrow();
      expect((await fetch(`${api}WhoAmI`, { headers: json })).status).toBe(200);
      // An injected fault comes first; the policy is asked only when none is pending.
      dataverse.faultPolicy = () => ({ kind: 'status', status: 503 });
      dataverse.inject({ kind: 'throttle', retryAfterSeconds: 1 });
      const throttled = await fetch(`${api}WhoAmI`, { headers: json });
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe('1');
    } finally {
      dataverse.faultPolicy = undefined;
    }
  });

  it('deletes a row directly, leaving the tombstone change tracking reports', async () => {
    const first = await read(await fetch(`${api}accounts`, { headers: { ...json, Prefer: 'odata.track-changes' } }));
    const [id] = dataverse.seedRows('account', [{ name: 'Gone' }]) as [string];
    expect(dataverse.deleteRow('account', id)).toBe(true);
    expect(dataverse.deleteRow('account', id)).toBe(false);
    expect(dataverse.row('account', id)).toBeUndefined();
    const changes = await read(
      await fetch(first['@odata.deltaLink'] as string, { headers: { ...json, Prefer: 'odata.track-changes' } }),
    );
    expect(changes.value).toContainEqual({
      '@odata.context': `${api}$metadata#accounts/$deletedEntity`,
      id,
      reason: 'deleted',
    });
  });

  it('expires delta tokens with ExpiredVersionStamp, and stamps modifiedon to the second on tables that have it', async () => {
    const stamped = new DataverseDouble({ now: () => new Date('2026-03-01T10:00:00.789Z') });
    stamped.seedTable({
      logicalName: 'lead',
      changeTracking: true,
      columns: [
        { logicalName: 'subject', type: 'String' },
        { logicalName: 'modifiedon', type: 'DateTime' },
        { logicalName: 'versionnumber', type: 'BigInt' },
      ],
    });
    await stamped.start();
    try {
      const [id] = stamped.seedRows('lead', [{ subject: 'A' }]);
      expect(stamped.row('lead', id as string)).toMatchObject({
        modifiedon: '2026-03-01T10:00:00Z',
        versionnumber: expect.any(Number),
      });
      const base = `${stamped.url}/api/data/v9.2/`;
      const first = await read(await fetch(`${base}leads`, { headers: { ...json, Prefer: 'odata.track-changes' } }));
      const deltaLink = first['@odata.deltaLink'] as string;
      expect((await fetch(deltaLink, { headers: { ...json, Prefer: 'odata.track-changes' } })).status).toBe(200);
      stamped.expireDeltaTokens();
      const expired = await fetch(deltaLink, { headers: { ...json, Prefer: 'odata.track-changes' } });
      expect(expired.status).toBe(400);
      expect(await read(expired)).toEqual({
        error: {
          code: '0x80044352',
          message: 'Version stamp associated with the client has expired. Please perform a full sync.',
        },
      });
    } finally {
      await stamped.stop();
    }
  });
});
