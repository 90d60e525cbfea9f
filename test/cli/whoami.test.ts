import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataverseSettings } from '../../shared/config.js';
import { createCredential } from '../../shared/dataverseApi/credential.js';
import { DataverseTransport } from '../../shared/dataverseApi/transport.js';
import { WebApiClient } from '../../shared/dataverseApi/webApiClient.js';
import { runWhoAmI } from '../../tools/cli/whoami.js';
import { makeCertificate } from '../doubles/certificates.js';
import { DataverseDouble } from '../doubles/dataverse.js';
import { EntraDouble } from '../doubles/entra.js';
import { freePort } from '../helpers/ports.js';

// The CLI as users run it: the compiled bin (npm test builds before it tests).
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'tools', 'cli', 'main.js');

let dataverse: DataverseDouble;
let dir: string;

beforeAll(async () => {
  dataverse = new DataverseDouble();
  await dataverse.start();
  dir = mkdtempSync(join(tmpdir(), 'bridge-whoami-'));
});

afterAll(async () => {
  await dataverse.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the built CLI in `dir` (no local.settings.json unless a test writes one) with only these variables. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'whoami', ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('dataverse-bridge whoami (the built CLI)', () => {
  it('prints the environment URL, the organization id and the application user id', async () => {
    const { code, stdout, stderr } = await cli([], {
      DATAVERSE_URL: dataverse.url,
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Dataverse environment  ${dataverse.url}`);
    expect(stdout).toContain(`Organization id        ${dataverse.organizationId}`);
    expect(stdout).toContain(`Application user id    ${dataverse.defaultUserId}`);
    expect(stdout).toContain('Credential             none (local mode');
  });

  it('reads local.settings.json like npm start (Development by default), and prints JSON with --json', async () => {
    const file = join(dir, 'other.settings.json');
    writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: { DATAVERSE_URL: dataverse.url } }));
    const { code, stdout } = await cli(['--settings', file, '--json'], {});
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      url: dataverse.url,
      organizationId: dataverse.organizationId,
      userId: dataverse.defaultUserId,
      businessUnitId: dataverse.businessUnitId,
    });
  });

  it('exits 2 naming DATAVERSE_URL when it is unset or malformed, and refuses http outside Development', async () => {
    const unset = await cli([], {});
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('DATAVERSE_URL is not set');
    const http = await cli([], { DATAVERSE_URL: dataverse.url, AZURE_FUNCTIONS_ENVIRONMENT: 'Production' });
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('Setting DATAVERSE_URL must use https');
    const partial = await cli([], { DATAVERSE_URL: 'https://contoso.crm.dynamics.com', DATAVERSE_CLIENT_SECRET: 'x' });
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain('DATAVERSE_TENANT_ID is not set');
    expect(partial.stderr).not.toContain("'x'");
  });

  it('exits 1 when the environment cannot be reached or is not Dataverse, saying to check DATAVERSE_URL', async () => {
    const port = await freePort();
    const env = { AZURE_FUNCTIONS_ENVIRONMENT: 'Development', DATAVERSE_RETRY_BUDGET_SECONDS: '0' };
    const unreachable = await cli([], { ...env, DATAVERSE_URL: `http://127.0.0.1:${port}` });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot be reached');
    expect(unreachable.stderr).toContain('fix: Check DATAVERSE_URL');
    dataverse.inject({ kind: 'status', status: 503 }, { times: 1 });
    const down = await cli([], { ...env, DATAVERSE_URL: dataverse.url });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('503');
  });

  it('explains itself with --help', async () => {
    const { code, stdout } = await cli(['--help'], {});
    expect(code).toBe(0);
    expect(stdout).toContain('Exit codes');
    expect(stdout).toContain('--settings');
  });
});

describe('runWhoAmI with a real credential (the Entra double)', () => {
  let entra: EntraDouble;
  let secured: DataverseDouble;
  const appId = randomUUID();
  const secret = `whoami-${randomUUID()}`;
  const certificate = makeCertificate('whoami');

  beforeAll(async () => {
    entra = new EntraDouble();
    await entra.start();
    entra.register({ clientId: appId, clientSecret: secret, certificatePem: certificate.certificatePem });
    secured = new DataverseDouble({ verifyToken: (token, audience) => entra.verifyAccessToken(token, audience) });
    await secured.start();
    writeFileSync(join(dir, 'none.json'), JSON.stringify({ Values: {} }));
  });

  afterAll(async () => {
    await Promise.all([entra.stop(), secured.stop()]);
  });

  /** The command's own flow, opening Dataverse with the credential pointed at the local Entra double. */
  async function whoami(env: Record<string, string>) {
    const out: string[] = [];
    const err: string[] = [];
    const open = async (settings: DataverseSettings) => {
      const credential = await createCredential(settings.auth, entra.credentialOptions());
      return new WebApiClient(
        new DataverseTransport({
          url: settings.url,
          ...(credential ? { credential } : {}),
          timeoutMs: 5_000,
          retryBudgetMs: 0,
        }),
      );
    };
    // Settings as in Azure: the https check is what production runs; the double's http URL is swapped in by `open`.
    const code = await runWhoAmI(
      { settings: join(dir, 'none.json') },
      { write: (s: string) => out.push(s) },
      { write: (s: string) => err.push(s) },
      { ...env },
      async (settings) => open({ ...settings, url: secured.url }),
    );
    return { code, stdout: out.join(''), stderr: err.join('') };
  }

  const azure = (extra: Record<string, string>) => ({
    AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
    DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
    DATAVERSE_TENANT_ID: entra.tenantId,
    DATAVERSE_CLIENT_ID: appId,
    ...extra,
  });

  it('says the application user is missing, naming the application id to add', async () => {
    const { code, stderr } = await whoami(azure({ DATAVERSE_CLIENT_SECRET: secret }));
    expect(code).toBe(1);
    expect(stderr).toContain('not a member of the organization');
    expect(stderr).toContain(`add an application user for application id ${appId}`);
    expect(stderr).not.toContain(secret);
  });

  it('succeeds with a certificate once the application user exists', async () => {
    const userId = secured.addApplicationUser(appId);
    const path = join(dir, 'whoami.pem');
    writeFileSync(path, certificate.pem());
    const { code, stdout } = await whoami(azure({ DATAVERSE_CERTIFICATE_PATH: path }));
    expect(code).toBe(0);
    expect(stdout).toContain(`Application user id    ${userId}`);
    expect(stdout).toContain(`certificate ${path} of app ${appId}`);
  });

  it('names the credential setting when Entra refuses it, without echoing the secret', async () => {
    const wrong = `${secret}-rotated`;
    const { code, stderr } = await whoami(azure({ DATAVERSE_CLIENT_SECRET: wrong }));
    expect(code).toBe(1);
    expect(stderr).toContain('DATAVERSE_CLIENT_SECRET');
    expect(stderr).toContain('AADSTS7000215');
    expect(stderr).not.toContain(wrong);
  });
});
