import { describe, expect, it } from 'vitest';
import { type Health, health } from '../../shared/connector/health.js';
import { reconcileOperationId, rowAttributes, rowVersion } from '../../shared/reconcile/contexts.js';
import type { ReconcileRun } from '../../shared/reconcile/types.js';

const ID = '6d81597f-0f9f-e711-8122-000d3aa2331c';

describe('reconciliation contexts', () => {
  it('takes a row version from versionnumber, else from the ETag', () => {
    expect(rowVersion({ versionnumber: 1234, '@odata.etag': 'W/"1"' })).toBe('1234');
    expect(rowVersion({ '@odata.etag': 'W/"5678"' })).toBe('5678');
    expect(rowVersion({})).toBeUndefined();
  });

  it('turns a Web API row into Target attributes: annotations dropped, lookups under their column name', () => {
    expect(
      rowAttributes({
        '@odata.etag': 'W/"1"',
        name: 'Contoso',
        'name@OData.Community.Display.V1.FormattedValue': 'Contoso',
        _parentaccountid_value: ID,
        revenue: 10.5,
        accountid: ID,
      }),
    ).toEqual({ name: 'Contoso', parentaccountid: ID, revenue: 10.5, accountid: ID });
  });

  it('keys an event by table, row (in any case) and version only', () => {
    const key = reconcileOperationId('account', ID, '5678');
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(reconcileOperationId('account', ID.toUpperCase(), '5678')).toBe(key);
    expect(reconcileOperationId('account', ID, '5679')).not.toBe(key);
    expect(reconcileOperationId('contact', ID, '5678')).not.toBe(key);
  });
});

describe('GET /api/health and reconciliation', () => {
  const run: ReconcileRun = {
    id: 'r1',
    startedAt: '2026-03-01T10:00:00.000Z',
    finishedAt: '2026-03-01T10:00:02.000Z',
    durationMs: 2000,
    status: 'failed',
    tables: [
      {
        table: 'account',
        pass: 'full',
        reason: 'delta token expired',
        rowsChecked: 10,
        gapsFound: 2,
        gapsRepaired: 2,
        requests: 3,
        deltaLinkSaved: true,
      },
      {
        table: 'contact',
        pass: 'delta',
        rowsChecked: 0,
        gapsFound: 0,
        gapsRepaired: 0,
        requests: 1,
        deltaLinkSaved: false,
        error: { table: 'contact', code: 'ReconcileConfiguration', message: 'Principal user (Id=1234) secret text' },
      },
    ],
    rowsChecked: 10,
    gapsFound: 2,
    gapsRepaired: 2,
    errors: [{ table: 'contact', code: 'ReconcileConfiguration', message: 'Principal user (Id=1234) secret text' }],
  };
  const base = { pingStorage: async () => {}, eventGrid: { kind: 'local' as const }, version: 'v' };

  it('shows the last run with counts and error codes, not messages, without changing the status', async () => {
    const response = await health({ ...base, lastReconciliation: async () => run });
    expect(response.status).toBe(200);
    const body = response.jsonBody as Health;
    expect(body.reconciliation).toEqual({
      status: 'failed',
      startedAt: '2026-03-01T10:00:00.000Z',
      durationMs: 2000,
      rowsChecked: 10,
      gapsFound: 2,
      gapsRepaired: 2,
      tables: [
        {
          table: 'account',
          pass: 'full',
          reason: 'delta token expired',
          rowsChecked: 10,
          gapsFound: 2,
          gapsRepaired: 2,
        },
        {
          table: 'contact',
          pass: 'delta',
          rowsChecked: 0,
          gapsFound: 0,
          gapsRepaired: 0,
          errorCode: 'ReconcileConfiguration',
        },
      ],
    });
    expect(JSON.stringify(body)).not.toContain('1234');
  });

  it('leaves it out when reconciliation is off, has not run, or its record cannot be read', async () => {
    expect(((await health(base)).jsonBody as Health).reconciliation).toBeUndefined();
    expect(
      ((await health({ ...base, lastReconciliation: async () => undefined })).jsonBody as Health).reconciliation,
    ).toBeUndefined();
    const unreadable = await health({
      ...base,
      lastReconciliation: async () => {
        throw new Error('storage down');
      },
    });
    expect((unreadable.jsonBody as Health).reconciliation).toBeUndefined();
  });
});
