/**
 * Real authentication: `@azure/identity` credentials (through MSAL) obtain tokens from the local Entra double, which
 * verifies the certificate credential's signed client assertion (signature with the test certificate's public key,
 * thumbprint, audience, expiry) or the client secret; the Dataverse double accepts only the tokens Entra issued for its
 * URL. Certificates are made at test time; nothing here is mocked.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataverseAuth } from '../../shared/config.js';
import { createCredential } from '../../shared/dataverseApi/credential.js';
import { DataverseRequestError } from '../../shared/dataverseApi/errors.js';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { makeCertificate, type TestCertificate } from '../doubles/certificates.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { EntraDouble } from '../doubles/entra.js';
import { failure, fakeClock } from './helpers.js';

const CERT_APP = randomUUID();
const SECRET_APP = randomUUID();
const NO_USER_APP = randomUUID();
const SECRET = `s3cr3t~${randomUUID()}`;
const PASSWORD = `pfx-${randomUUID()}`;

let entra: EntraDouble;
let dataverse: DataverseDouble;
let certificate: TestCertificate;
let dir: string;
let certUserId: string;
let secretUserId: string;
/** Everything the client said: error messages, their JSON, log lines. Checked for secrets at the end. */
const said: string[] = [];

beforeAll(async () => {
  entra = new EntraDouble();
  await entra.start();
  certificate = makeCertificate('dataverse-bridge test app');
  entra.register({ clientId: CERT_APP, certificatePem: certificate.certificatePem });
  entra.register({ clientId: SECRET_APP, clientSecret: SECRET });
  entra.register({ clientId: NO_USER_APP, clientSecret: SECRET });
  dataverse = new DataverseDouble({ verifyToken: (token, audience) => entra.verifyAccessToken(token, audience) });
  certUserId = dataverse.addApplicationUser(CERT_APP);
  secretUserId = dataverse.addApplicationUser(SECRET_APP);
  await dataverse.start();
  dir = mkdtempSync(join(tmpdir(), 'bridge-cert-'));
});

afterAll(async () => {
  await Promise.all([entra.stop(), dataverse.stop()]);
  rmSync(dir, { recursive: true, force: true });
  // No secret, password, key or token ever appeared in what the client said.
  const tokens = dataverse.requests.length > 0 ? entra.tokenRequests.map((r) => r.client_assertion ?? '') : [];
  const text = said.join('\n');
  expect(text.length).toBeGreaterThan(0);
  for (const secret of [SECRET, PASSWORD, ...tokens.filter((t) => t !== '')]) expect(text).not.toContain(secret);
  expect(text).not.toMatch(/PRIVATE KEY|eyJ[A-Za-z0-9_-]{20,}/);
});

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function api(auth: DataverseAuth, options: { retryBudgetMs?: number } = {}) {
  const credential = await createCredential(auth, entra.credentialOptions());
  const transport = new DataverseTransport({
    url: dataverse.url,
    ...(credential ? { credential } : {}),
    timeoutMs: 10_000,
    retryBudgetMs: options.retryBudgetMs ?? 10_000,
    clock: fakeClock(),
    log: (line) => said.push(line),
  });
  return new WebApiClient(transport);
}

const certificateAuth = (path: string, certificatePassword?: string): DataverseAuth => ({
  kind: 'certificate',
  tenantId: entra.tenantId,
  clientId: CERT_APP,
  certificatePath: path,
  ...(certificatePassword ? { certificatePassword } : {}),
});

describe('certificate authentication (ClientCertificateCredential against the Entra double)', () => {
  it('signs in with a PEM file and calls Dataverse as the application user', async () => {
    const before = entra.counters.tokensIssued;
    const client = await api(certificateAuth(file('app.pem', certificate.pem())));
    const me = await client.whoAmI();
    expect(me.userId).toBe(certUserId);
    expect(entra.counters.tokensIssued - before).toBe(1);
    const sent = entra.tokenRequests.at(-1) as Record<string, string>;
    expect(sent.grant_type).toBe('client_credentials');
    expect(sent.scope).toBe(`${dataverse.url}/.default`);
    expect(sent.client_secret).toBeUndefined();
    // The assertion the double verified names the certificate by its thumbprint.
    const header = JSON.parse(
      Buffer.from((sent.client_assertion as string).split('.')[0] as string, 'base64url').toString(),
    );
    const thumbprint = header['x5t#S256'] ?? header.x5t;
    const expected = header['x5t#S256'] ? certificate.thumbprintSha256 : certificate.thumbprintSha1;
    expect(Buffer.from(thumbprint, 'base64url').toString('hex').toUpperCase()).toBe(expected);
    const request = dataverse.requests.at(-1);
    expect(request).toMatchObject({ bearer: true, appId: CERT_APP, status: 200 });

    // The token is reused until it nears expiry: a second call fetches none.
    await client.whoAmI();
    await client.whoAmI();
    expect(entra.counters.tokensIssued - before).toBe(1);
  });

  it('opens a PEM file whose key is encrypted with DATAVERSE_CERTIFICATE_PASSWORD', async () => {
    const path = file('encrypted.pem', certificate.pem(PASSWORD));
    expect((await (await api(certificateAuth(path, PASSWORD))).whoAmI()).userId).toBe(certUserId);
    const missing = await failure(
      api(certificateAuth(path)).then((client) => client.whoAmI()),
      said,
    );
    expect(missing).toMatchObject({ code: 'DataverseCertificateUnreadable', transient: false });
    expect(missing.message).toContain('DATAVERSE_CERTIFICATE_PASSWORD');
  });

  it('signs in with a PFX file and its password', async () => {
    const path = file('app.pfx', certificate.pfx(PASSWORD));
    const before = entra.counters.tokensIssued;
    expect((await (await api(certificateAuth(path, PASSWORD))).whoAmI()).userId).toBe(certUserId);
    expect(entra.counters.tokensIssued - before).toBe(1);
  });

  it('says which setting is wrong for a wrong PFX password, a missing file and a file without a key', async () => {
    const pfx = file('wrong.pfx', certificate.pfx(PASSWORD));
    const wrong = await failure(
      createCredential(certificateAuth(pfx, 'not-the-password'), entra.credentialOptions()),
      said,
    );
    expect(wrong).toMatchObject({ code: 'DataverseCertificateUnreadable', transient: false });
    expect(wrong.message).toContain('DATAVERSE_CERTIFICATE_PASSWORD does not open');
    expect(wrong.message).not.toContain('not-the-password');

    const missing = await failure(
      createCredential(certificateAuth(join(dir, 'nope.pem')), entra.credentialOptions()),
      said,
    );
    expect(missing.message).toMatch(/DATAVERSE_CERTIFICATE_PATH: cannot read .*nope\.pem \(ENOENT\)/);

    const publicOnly = file('public.pem', certificate.certificatePem);
    const noKey = await failure(createCredential(certificateAuth(publicOnly), entra.credentialOptions()), said);
    expect(noKey.message).toContain('no private key');
  });

  it('reports a certificate Entra does not know as a permanent credential error with the AADSTS reason', async () => {
    const stranger = makeCertificate('not registered');
    const client = await api(certificateAuth(file('stranger.pem', stranger.pem())));
    const error = await failure(client.whoAmI(), said);
    expect(error).toBeInstanceOf(DataverseRequestError);
    expect(error).toMatchObject({ code: 'DataverseCredentialRejected', transient: false, operation: 'token' });
    expect(error.message).toContain('DATAVERSE_CERTIFICATE_PATH');
    expect(error.message).toContain('AADSTS700027');
    expect(entra.lastError).toContain('AADSTS700027');
  });
});

describe('client secret authentication', () => {
  const secretAuth = (clientSecret: string, clientId = SECRET_APP): DataverseAuth => ({
    kind: 'secret',
    tenantId: entra.tenantId,
    clientId,
    clientSecret,
  });

  it('signs in with the secret', async () => {
    expect((await (await api(secretAuth(SECRET))).whoAmI()).userId).toBe(secretUserId);
    expect(entra.tokenRequests.at(-1)?.client_secret).toBe(SECRET);
  });

  it('reports a wrong secret without repeating it', async () => {
    const wrong = `${SECRET}-old`;
    const error = await failure((await api(secretAuth(wrong))).whoAmI(), said);
    expect(error).toMatchObject({ code: 'DataverseCredentialRejected', transient: false });
    expect(error.message).toContain('AADSTS7000215');
    expect(error.message).toContain('DATAVERSE_CLIENT_SECRET');
    expect(error.message).not.toContain(wrong);
  });

  it('says the app is not an application user of the environment (403)', async () => {
    const error = await failure((await api(secretAuth(SECRET, NO_USER_APP))).whoAmI(), said);
    expect(error).toMatchObject({
      code: 'DataverseForbidden',
      status: 403,
      dataverseCode: '0x80072560',
      transient: false,
    });
    expect(error.message).toContain('not a member of the organization');
  });
});

describe('expired and refused tokens', () => {
  it('fetches a new token once after a 401 and repeats the request', async () => {
    const client = await api({ kind: 'secret', tenantId: entra.tenantId, clientId: SECRET_APP, clientSecret: SECRET });
    await client.whoAmI();
    dataverse.inject({ kind: 'expiredToken' });
    const before = dataverse.count('whoAmI');
    expect((await client.whoAmI()).userId).toBe(secretUserId);
    expect(dataverse.count('whoAmI') - before).toBe(2);
  });

  it('gives up with a permanent error naming the reason when the token is refused again', async () => {
    const client = await api({ kind: 'secret', tenantId: entra.tenantId, clientId: SECRET_APP, clientSecret: SECRET });
    dataverse.inject({ kind: 'expiredToken' }, { times: 2 });
    const error = await failure(client.whoAmI(), said);
    expect(error).toMatchObject({ code: 'DataverseUnauthorized', status: 401, transient: false });
    expect(error.message).toContain('The token is expired');
    expect(error.message).toContain('DATAVERSE_URL');
  });

  it('is refused by Dataverse without any token', async () => {
    const transport = new DataverseTransport({
      url: dataverse.url,
      timeoutMs: 5_000,
      retryBudgetMs: 0,
      clock: fakeClock(),
    });
    const error = await failure(new WebApiClient(transport).whoAmI(), said);
    expect(error).toMatchObject({ code: 'DataverseUnauthorized', status: 401 });
  });
});

describe('managed identity (ManagedIdentityCredential against the Functions identity endpoint of the Entra double)', () => {
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  const systemAssigned = randomUUID();
  const userAssigned = randomUUID();
  let systemUser: string;
  let assignedUser: string;

  beforeAll(() => {
    // What the Functions host gives an app with an identity.
    process.env.IDENTITY_ENDPOINT = entra.identityEndpoint;
    process.env.IDENTITY_HEADER = entra.identityHeader;
    entra.registerManagedIdentity(systemAssigned);
    entra.registerManagedIdentity(userAssigned);
    systemUser = dataverse.addApplicationUser(systemAssigned);
    assignedUser = dataverse.addApplicationUser(userAssigned);
  });

  afterAll(() => {
    for (const [name, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('signs in with the system-assigned identity', async () => {
    const client = await api({ kind: 'identity', localMode: false });
    expect((await client.whoAmI()).userId).toBe(systemUser);
    expect(dataverse.requests.at(-1)?.appId).toBe(systemAssigned);
  });

  it('signs in with a user-assigned identity named by DATAVERSE_CLIENT_ID', async () => {
    const client = await api({ kind: 'identity', clientId: userAssigned, localMode: false });
    expect((await client.whoAmI()).userId).toBe(assignedUser);
    expect(dataverse.requests.at(-1)?.appId).toBe(userAssigned);
  });

  it('names the identity setting when the identity is not assigned to the app', async () => {
    const error = await failure(
      (await api({ kind: 'identity', clientId: randomUUID(), localMode: false })).whoAmI(),
      said,
    );
    expect(error.operation).toBe('token');
    expect(error.message).toContain('DATAVERSE_CLIENT_ID');
    expect(error).toMatchObject({ code: 'DataverseCredentialRejected', transient: false });
    expect(error.message).toContain('is assigned to this app');
  });
});
