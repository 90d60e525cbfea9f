/**
 * `reconcileChanges` as `npm start` serves it: the function file, the composition root and the health answer wired
 * together, with DATAVERSE_URL pointing at the Dataverse double (local mode: no credential).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataverseDouble } from '../doubles/dataverse.js';
import { type RunningHost, startLocalHost } from '../helpers/localHost.js';

let dataverse: DataverseDouble;
let host: RunningHost;
let ids: string[];

beforeAll(async () => {
  dataverse = new DataverseDouble();
  dataverse.seedTable({
    logicalName: 'account',
    changeTracking: true,
    columns: [
      { logicalName: 'name', type: 'String' },
      { logicalName: 'modifiedon', type: 'DateTime' },
    ],
  });
  ids = dataverse.seedRows('account', [{ name: 'A' }, { name: 'B' }, { name: 'C' }]);
  await dataverse.start();
  host = await startLocalHost({
    DATAVERSE_URL: dataverse.url,
    BRIDGE_RECONCILE_TABLES: 'account',
    // Once a year: the test runs it through the admin endpoint.
    BRIDGE_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
  });
});

afterAll(async () => {
  await host?.stop();
  await dataverse?.stop();
});

describe('npm start: reconcileChanges', () => {
  it('is scheduled from its setting, repairs the rows the bridge never saw, and health shows the run', async () => {
    await expect.poll(() => host.output()).toMatch(/Timer: {6}reconcileChanges on "0 0 0 1 1 \*", next at \d{4}-/);
    const invoke = () =>
      host.request('/admin/functions/reconcileChanges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: '' }),
      });
    const first = await invoke();
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({
      status: 'succeeded',
      rowsChecked: 3,
      gapsFound: 3,
      gapsRepaired: 3,
      tables: [{ table: 'account', pass: 'full', reason: 'first run', deltaLinkSaved: true }],
    });

    const { value: events } = (await (await host.request('/admin/events')).json()) as {
      value: Array<Record<string, unknown>>;
    };
    const repaired = events.filter((e) => e.bridgeorigin === 'reconciliation');
    expect(repaired.map((e) => e.subject).sort()).toEqual(ids.map((id) => `account/${id}`).sort());
    expect(repaired.every((e) => e.type === 'dataverse.create')).toBe(true);

    // The local fan-out hands the events to projectChanges: the rows converge with Dataverse's.
    for (const id of ids) {
      await expect
        .poll(async () => {
          const response = await host.request(`/api/tables/account/rows/${id}`);
          return response.status === 200 ? ((await response.json()) as { attributes: { name: string } }) : undefined;
        })
        .toMatchObject({ attributes: { name: dataverse.row('account', id)?.name } });
    }

    const second = await invoke();
    expect(await second.json()).toMatchObject({ status: 'succeeded', gapsFound: 0, tables: [{ pass: 'delta' }] });

    const health = (await (await host.request('/api/health', { key: null })).json()) as {
      reconciliation?: Record<string, unknown>;
    };
    expect(health.reconciliation).toMatchObject({ status: 'succeeded', gapsFound: 0, tables: [{ pass: 'delta' }] });
  });
});
