/**
 * The registration tables of the Dataverse double, spoken to with plain fetch, against what Microsoft Learn documents:
 * lookups set with `<navigation property>@odata.bind` and read back as `_<lookup>_value`, columns not valid for read
 * never returned, and unquoted `Edm.DateTimeOffset` literals in `$filter`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseDouble } from './dataverse.js';
import { seedRegistrationTables, seedSystemJob } from './dataverseRegistration.js';

let dataverse: DataverseDouble;
let api: string;
let filters: Record<string, string>;
const json = { 'Content-Type': 'application/json', 'OData-Version': '4.0', Accept: 'application/json' };

beforeAll(async () => {
  dataverse = new DataverseDouble();
  ({ filters } = seedRegistrationTables(dataverse, { account: ['name'] }));
  await dataverse.start();
  api = `${dataverse.url}/api/data/v9.2/`;
});

afterAll(async () => {
  await dataverse.stop();
});

async function create(set: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${api}${set}`, {
    method: 'POST',
    headers: { ...json, Prefer: 'return=representation' },
    body: JSON.stringify(body),
  });
}

describe('the Dataverse double: registration tables', () => {
  it('binds a lookup by navigation property and reads it back as _<lookup>_value; never returns the SAS key', async () => {
    const endpoint = (await (
      await create('serviceendpoints', { name: 'E', contract: 2, saskey: 'secret' })
    ).json()) as Record<string, unknown>;
    expect(endpoint).not.toHaveProperty('saskey');
    const step = await create('sdkmessageprocessingsteps', {
      name: 'S',
      stage: 40,
      mode: 1,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${String(endpoint.serviceendpointid)})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filters['Update/account']})`,
    });
    expect(step.status).toBe(201);
    const body = (await step.json()) as Record<string, unknown>;
    expect(body._eventhandler_value).toBe(endpoint.serviceendpointid);
    expect(body._sdkmessagefilterid_value).toBe(filters['Update/account']);
    const listed = (await (
      await fetch(
        `${api}sdkmessageprocessingsteps?$select=name&$filter=_eventhandler_value eq ${String(endpoint.serviceendpointid)}`,
        { headers: json },
      )
    ).json()) as { value: unknown[] };
    expect(listed.value).toHaveLength(1);
  });

  it('refuses a binding to a property that is not a lookup', async () => {
    const answer = await create('sdkmessageprocessingsteps', {
      'name@odata.bind': '/serviceendpoints(00000000-0000-0000-0000-000000000001)',
    });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { message: string } }).error.message).toContain(
      "undeclared property 'name'",
    );
  });

  it('filters system jobs by an unquoted DateTimeOffset literal', async () => {
    const step = '00000000-0000-0000-0000-0000000000aa';
    seedSystemJob(dataverse, { stepId: step, statusCode: 31, createdOn: new Date('2026-01-01T10:00:00Z') });
    seedSystemJob(dataverse, { stepId: step, statusCode: 30, createdOn: new Date('2026-01-01T12:00:00Z') });
    const filter = encodeURIComponent(`_owningextensionid_value eq ${step} and createdon ge 2026-01-01T11:00:00Z`);
    const answer = (await (
      await fetch(`${api}asyncoperations?$select=statuscode&$filter=${filter}`, { headers: json })
    ).json()) as {
      value: Array<{ statuscode: number }>;
    };
    expect(answer.value.map((j) => j.statuscode)).toEqual([30]);
  });
});
