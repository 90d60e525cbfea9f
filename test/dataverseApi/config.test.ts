import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config.js';

const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', DATAVERSE_QUEUE_NAME: 'dataverse' };
const dev = { ...base, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' };
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0f4b8e59-2f5a-4c5e-9d0c-4b5b3a1f7e21';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('Dataverse settings', () => {
  it('leaves Dataverse off when DATAVERSE_URL is unset', () => {
    expect(loadConfig(base).dataverse).toBeUndefined();
    expect(loadConfig({ ...base, DATAVERSE_URL: '  ' }).dataverse).toBeUndefined();
  });

  it('uses the managed identity by default (user-assigned with DATAVERSE_CLIENT_ID), with the default limits', () => {
    expect(loadConfig({ ...base, DATAVERSE_URL: 'https://contoso.crm.dynamics.com/' }).dataverse).toEqual({
      url: 'https://contoso.crm.dynamics.com',
      auth: { kind: 'identity', localMode: false },
      timeoutSeconds: 30,
      retryBudgetSeconds: 60,
    });
    const userAssigned = loadConfig({
      ...base,
      DATAVERSE_URL: 'https://contoso.crm4.dynamics.com',
      DATAVERSE_CLIENT_ID: CLIENT,
    });
    expect(userAssigned.dataverse?.auth).toEqual({ kind: 'identity', clientId: CLIENT, localMode: false });
    // Locally the developer's own sign-in is tried first.
    expect(loadConfig({ ...dev, DATAVERSE_URL: 'https://contoso.crm.dynamics.com' }).dataverse?.auth).toEqual({
      kind: 'identity',
      localMode: true,
    });
  });

  it('reads a certificate (with its password) or a client secret, and the limits', () => {
    const certificate = loadConfig({
      ...base,
      DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
      DATAVERSE_TENANT_ID: TENANT,
      DATAVERSE_CLIENT_ID: CLIENT,
      DATAVERSE_CERTIFICATE_PATH: '/home/site/cert.pfx',
      DATAVERSE_CERTIFICATE_PASSWORD: 'pw',
      DATAVERSE_TIMEOUT_SECONDS: '10',
      DATAVERSE_RETRY_BUDGET_SECONDS: '0',
    }).dataverse;
    expect(certificate).toEqual({
      url: 'https://contoso.crm.dynamics.com',
      auth: {
        kind: 'certificate',
        tenantId: TENANT,
        clientId: CLIENT,
        certificatePath: '/home/site/cert.pfx',
        certificatePassword: 'pw',
      },
      timeoutSeconds: 10,
      retryBudgetSeconds: 0,
    });
    const secret = loadConfig({
      ...base,
      DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
      DATAVERSE_TENANT_ID: TENANT,
      DATAVERSE_CLIENT_ID: CLIENT,
      DATAVERSE_CLIENT_SECRET: 'xyz',
    }).dataverse;
    expect(secret?.auth).toEqual({ kind: 'secret', tenantId: TENANT, clientId: CLIENT, clientSecret: 'xyz' });
  });

  it('uses no credential for http://localhost or http://127.0.0.1 with a port in Development', () => {
    for (const url of ['http://localhost:5555', 'http://127.0.0.1:5555/']) {
      const settings = loadConfig({ ...dev, DATAVERSE_URL: url, DATAVERSE_CLIENT_SECRET: 'ignored' }).dataverse;
      expect(settings?.auth).toEqual({ kind: 'none' });
      expect(settings?.url).toBe(url.replace(/\/$/, ''));
    }
  });

  it('refuses http outside Development, and to any other host, naming the setting and the fix', () => {
    const outside = configError({ ...base, DATAVERSE_URL: 'http://localhost:5555' });
    expect(outside.setting).toBe('DATAVERSE_URL');
    expect(outside.message).toContain('must use https');
    expect(outside.message).toContain('AZURE_FUNCTIONS_ENVIRONMENT=Development');
    const remote = configError({ ...dev, DATAVERSE_URL: 'http://contoso.crm.dynamics.com' });
    expect(remote.message).toContain('must use https, such as https://contoso.crm.dynamics.com');
    expect(configError({ ...dev, DATAVERSE_URL: 'http://localhost' }).setting).toBe('DATAVERSE_URL');
  });

  it('names the bad or missing Dataverse setting', () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ DATAVERSE_URL: 'contoso' }, 'DATAVERSE_URL', 'must be the environment URL'],
      [{ DATAVERSE_URL: 'https://contoso.crm.dynamics.com/api/data/v9.2' }, 'DATAVERSE_URL', 'no path'],
      [{ DATAVERSE_CLIENT_SECRET: 'x' }, 'DATAVERSE_URL', 'is not set, but DATAVERSE_CLIENT_SECRET is'],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_CLIENT_SECRET: 'x', DATAVERSE_CLIENT_ID: CLIENT },
        'DATAVERSE_TENANT_ID',
        'is not set',
      ],
      [
        {
          DATAVERSE_URL: 'https://c.crm.dynamics.com',
          DATAVERSE_CERTIFICATE_PATH: 'c.pem',
          DATAVERSE_TENANT_ID: TENANT,
        },
        'DATAVERSE_CLIENT_ID',
        'is not set',
      ],
      [
        {
          DATAVERSE_URL: 'https://c.crm.dynamics.com',
          DATAVERSE_CERTIFICATE_PATH: 'c.pem',
          DATAVERSE_CLIENT_SECRET: 'x',
          DATAVERSE_TENANT_ID: TENANT,
          DATAVERSE_CLIENT_ID: CLIENT,
        },
        'DATAVERSE_CLIENT_SECRET',
        'keep one credential',
      ],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_CERTIFICATE_PASSWORD: 'pw' },
        'DATAVERSE_CERTIFICATE_PATH',
        'is not set',
      ],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_TENANT_ID: TENANT },
        'DATAVERSE_TENANT_ID',
        'managed identity',
      ],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_CLIENT_ID: 'my-app' },
        'DATAVERSE_CLIENT_ID',
        'must be a GUID',
      ],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_TIMEOUT_SECONDS: '0' },
        'DATAVERSE_TIMEOUT_SECONDS',
        'from 1 to 300',
      ],
      [
        { DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_RETRY_BUDGET_SECONDS: '-1' },
        'DATAVERSE_RETRY_BUDGET_SECONDS',
        'from 0 to 600',
      ],
    ];
    for (const [env, setting, text] of cases) {
      const error = configError({ ...base, ...env });
      expect(error.setting, JSON.stringify(env)).toBe(setting);
      expect(error.message).toContain(text);
    }
  });

  it('never echoes a secret, a password or URL credentials', () => {
    const secret = 'Zq8~very-secret-value';
    const messages = [
      configError({ ...base, DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_CLIENT_SECRET: secret }).message,
      configError({ ...base, DATAVERSE_CLIENT_SECRET: secret }).message,
      configError({ ...base, DATAVERSE_URL: 'https://c.crm.dynamics.com', DATAVERSE_CERTIFICATE_PASSWORD: secret })
        .message,
      configError({ ...base, DATAVERSE_URL: `https://user:${secret}@c.crm.dynamics.com/x` }).message,
    ];
    for (const message of messages) expect(message).not.toContain(secret);
  });
});
