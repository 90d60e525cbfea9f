/**
 * `withDataverse`: who a Dataverse operation acts as, before any Dataverse call — the cases the local-host test does
 * not reach (Dataverse not configured, tokens while the app accepts none, a malformed Authorization header).
 */
import { describe, expect, it } from 'vitest';
import { type DataverseOperationDeps, withDataverse } from '../../shared/connector/dataverseIdentity.js';
import type { DataverseApi } from '../../shared/dataverseApi/types.js';

const impersonated: string[] = [];
const api = {
  url: 'http://127.0.0.1:1',
  as(oid: string) {
    impersonated.push(oid);
    return api;
  },
} as unknown as DataverseApi;
const ok = async () => ({ status: 200, jsonBody: { ran: true } });

function deps(overrides: Partial<DataverseOperationDeps> = {}): DataverseOperationDeps {
  return {
    configured: true,
    auth: undefined,
    appOperations: false,
    api: async () => api,
    validator: async () => undefined,
    ...overrides,
  };
}

describe('withDataverse', () => {
  it('answers 404 naming DATAVERSE_URL when Dataverse is not configured, and runs nothing', async () => {
    const answer = await withDataverse(null, deps({ configured: false }), ok);
    expect(answer).toMatchObject({ status: 404, jsonBody: { error: { code: 'DataverseNotConfigured' } } });
    expect(JSON.stringify(answer)).toContain('DATAVERSE_URL');
  });

  it('refuses a bearer token while BRIDGE_AUTH_TENANT_ID is unset, instead of running as the app', async () => {
    const answer = await withDataverse('Bearer a.b.c', deps({ appOperations: true }), ok);
    expect(answer.status).toBe(401);
    expect(answer.headers?.['WWW-Authenticate']).toMatch(/^Bearer realm="dataverse-bridge", error="invalid_token"/);
    expect(JSON.stringify(answer.jsonBody)).toContain('BRIDGE_AUTH_TENANT_ID');
  });

  it('answers 401 to an Authorization header that is not Bearer', async () => {
    const answer = await withDataverse('Basic dXNlcjpwYXNz', deps(), ok);
    expect(answer).toMatchObject({
      status: 401,
      jsonBody: { error: { code: 'InvalidToken', target: 'Authorization' } },
    });
  });

  it('runs as the caller the validator names', async () => {
    const oid = '6d81597f-0f9f-e711-8122-000d3aa2331c';
    const auth = { tenantId: 't', audiences: ['api://x'], issuers: ['i'], metadataUrl: 'https://m' };
    const validator = { validate: async () => ({ objectId: oid, tenantId: 't' }) };
    const answer = await withDataverse('Bearer a.b.c', deps({ auth, validator: async () => validator }), ok);
    expect(answer.status).toBe(200);
    expect(impersonated).toEqual([oid]);
  });

  it('runs as the application user on a key alone only when allowed, with a challenge otherwise', async () => {
    const auth = { tenantId: 't', audiences: ['api://x'], issuers: ['i'], metadataUrl: 'https://m' };
    const refused = await withDataverse(null, deps({ auth }), ok);
    expect(refused.status).toBe(403);
    expect(refused.headers?.['WWW-Authenticate']).toBe('Bearer realm="api://x"');
    expect((await withDataverse(null, deps({ appOperations: true }), ok)).status).toBe(200);
  });
});
