/**
 * Bearer-token validation against a local issuer: the Entra double publishes its OpenID metadata and signing keys over
 * HTTP, and signs tokens the way Entra does; every way a token can be wrong is refused with a message that says why.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerToken,
  InvalidTokenError,
  SigningKeysUnavailableError,
  type TokenValidator,
  tokenValidator,
} from '../../shared/auth/bearerToken.js';
import type { AuthSettings } from '../../shared/config.js';
import { EntraDouble } from '../doubles/entra.js';

const AUDIENCE = 'api://dataverse-bridge-test';
let entra: EntraDouble;
let settings: AuthSettings;
let validator: TokenValidator;

beforeAll(async () => {
  entra = new EntraDouble();
  const metadataUrl = await entra.startPublicMetadata();
  settings = {
    tenantId: entra.tenantId,
    audiences: [AUDIENCE],
    issuers: [`https://login.microsoftonline.com/${entra.tenantId}/v2.0`],
    metadataUrl,
  };
  validator = tokenValidator(settings);
});

afterAll(async () => {
  await entra.stop();
});

const now = () => Math.floor(Date.now() / 1000);

async function refusal(token: string): Promise<string> {
  const error = await validator.validate(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  return (error as Error).message;
}

describe('tokenValidator', () => {
  it('accepts a valid token and returns the caller’s object id and tenant', async () => {
    const oid = randomUUID();
    await expect(validator.validate(entra.userToken(AUDIENCE, { oid }))).resolves.toEqual({
      objectId: oid,
      tenantId: entra.tenantId,
    });
  });

  it('reads the keys once and keeps them', async () => {
    const before = entra.counters.keyRequests;
    await validator.validate(entra.userToken(AUDIENCE));
    await validator.validate(entra.userToken(AUDIENCE));
    expect(entra.counters.keyRequests).toBe(before);
  });

  it('refuses an expired token (beyond the 5-minute skew)', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, { exp: now() - 600, nbf: now() - 4000 }))).toBe(
      'The token has expired; get a new one.',
    );
  });

  it('refuses a token that is not valid yet', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, { nbf: now() + 900, exp: now() + 4000 }))).toBe(
      'The token is not valid yet (nbf).',
    );
  });

  it('refuses another audience', async () => {
    expect(await refusal(entra.userToken('api://someone-else'))).toBe(
      'The token is for another audience (aud) than BRIDGE_AUTH_AUDIENCE.',
    );
  });

  it('refuses another issuer', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, { iss: 'https://login.microsoftonline.com/other/v2.0' }))).toBe(
      'The token was not issued by the tenant BRIDGE_AUTH_TENANT_ID names (iss).',
    );
  });

  it('refuses another tenant (tid) even with the right issuer', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, { tid: randomUUID() }))).toBe(
      'The token was issued for another tenant (tid) than BRIDGE_AUTH_TENANT_ID.',
    );
  });

  it('refuses a token signed by a key the tenant does not publish', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, {}, 'other-key'))).toBe(
      'The token is not signed by a key the tenant publishes.',
    );
  });

  it('refuses an unsigned token (alg none)', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, {}, 'none'))).toBe('The token is not signed with RS256.');
  });

  it('refuses a token without an object id', async () => {
    expect(await refusal(entra.userToken(AUDIENCE, { oid: undefined }))).toMatch(/oid/);
  });

  it('refuses what is not a JWT', async () => {
    expect(await refusal('not-a-token')).toBe('The token is not a valid signed JWT.');
  });

  it('reports unreachable signing keys as transient', async () => {
    const down = tokenValidator({ ...settings, metadataUrl: 'http://127.0.0.1:9/nothing' });
    await expect(down.validate(entra.userToken(AUDIENCE))).rejects.toBeInstanceOf(SigningKeysUnavailableError);
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer header, and nothing from a missing one', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken(null)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
  });

  it('refuses another scheme', () => {
    expect(() => bearerToken('Basic dXNlcjpwYXNz')).toThrow(InvalidTokenError);
  });
});
