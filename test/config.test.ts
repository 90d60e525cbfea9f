import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../shared/config.js';

const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', DATAVERSE_QUEUE_NAME: 'dataverse' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('loadConfig', () => {
  it('reads a minimal local configuration with defaults', () => {
    expect(loadConfig(base)).toEqual({
      storage: { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true', prefix: 'bridge' },
      queueName: 'dataverse',
      leaseSeconds: 300,
      delivery: { unhealthyAfter: 5, timeoutSeconds: 15 },
      localMode: false,
      reconcile: { tables: [], schedule: '0 */15 * * * *' },
      dataverseAppOperations: false,
      verify: { enabled: false, delaySeconds: 5, windowSeconds: 300 },
      storageConnection: 'AzureWebJobsStorage',
    });
  });

  it('holds synchronous contexts only with DATAVERSE_URL, unless BRIDGE_VERIFY_SYNC is false', () => {
    const dataverse = { ...base, DATAVERSE_URL: 'https://contoso.crm.dynamics.com' };
    expect(loadConfig(dataverse).verify).toEqual({ enabled: true, delaySeconds: 5, windowSeconds: 300 });
    expect(loadConfig({ ...dataverse, BRIDGE_VERIFY_SYNC: 'FALSE' }).verify.enabled).toBe(false);
    expect(loadConfig({ ...base, BRIDGE_VERIFY_SYNC: 'true' }).verify.enabled).toBe(false);
    expect(
      loadConfig({ ...dataverse, BRIDGE_VERIFY_DELAY_SECONDS: '2', BRIDGE_VERIFY_WINDOW_SECONDS: '30' }).verify,
    ).toEqual({ enabled: true, delaySeconds: 2, windowSeconds: 30 });
    expect(configError({ ...dataverse, BRIDGE_VERIFY_SYNC: 'yes' }).setting).toBe('BRIDGE_VERIFY_SYNC');
    expect(configError({ ...dataverse, BRIDGE_VERIFY_DELAY_SECONDS: '0' }).setting).toBe('BRIDGE_VERIFY_DELAY_SECONDS');
    expect(
      configError({ ...dataverse, BRIDGE_VERIFY_DELAY_SECONDS: '10', BRIDGE_VERIFY_WINDOW_SECONDS: '5' }).setting,
    ).toBe('BRIDGE_VERIFY_WINDOW_SECONDS');
    // Identity-based storage given by service URIs needs the queue's too, while the hold is on.
    const uris = {
      DATAVERSE_QUEUE_NAME: 'q',
      DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net',
    };
    expect(configError(uris).setting).toBe('AzureWebJobsStorage__queueServiceUri');
    expect(loadConfig({ ...uris, BRIDGE_VERIFY_SYNC: 'false' }).verify.enabled).toBe(false);
    expect(
      loadConfig({ ...uris, AzureWebJobsStorage__queueServiceUri: 'https://acct.queue.core.windows.net' }).storage,
    ).toMatchObject({ queueServiceUri: 'https://acct.queue.core.windows.net' });
    expect(loadConfig({ ...base, BRIDGE_STORAGE_CONNECTION: 'X=1' }).storageConnection).toBe(
      'BRIDGE_STORAGE_CONNECTION',
    );
  });

  it('reads the reconciliation tables and schedule, naming a bad one', () => {
    const dataverse = { ...base, DATAVERSE_URL: 'https://contoso.crm.dynamics.com' };
    expect(
      loadConfig({
        ...dataverse,
        BRIDGE_RECONCILE_TABLES: ' account, contact,account ',
        BRIDGE_RECONCILE_SCHEDULE: '0 0 * * * *',
      }).reconcile,
    ).toEqual({ tables: ['account', 'contact'], schedule: '0 0 * * * *' });
    expect(configError({ ...dataverse, BRIDGE_RECONCILE_TABLES: 'Account' }).message).toContain(
      'BRIDGE_RECONCILE_TABLES',
    );
    expect(configError({ ...base, BRIDGE_RECONCILE_TABLES: 'account' }).message).toContain('DATAVERSE_URL');
    expect(configError({ ...base, BRIDGE_RECONCILE_SCHEDULE: '*/5 * * * *' }).message).toContain(
      'BRIDGE_RECONCILE_SCHEDULE',
    );
  });

  it('reads the Entra ID token settings, with the tenant’s issuers and metadata by default', () => {
    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const config = loadConfig({
      ...base,
      BRIDGE_AUTH_TENANT_ID: tenant,
      BRIDGE_AUTH_AUDIENCE: 'api://bridge, 11111111-2222-3333-4444-555555555555',
      BRIDGE_DATAVERSE_APP_OPERATIONS: 'TRUE',
    });
    expect(config.auth).toEqual({
      tenantId: tenant,
      audiences: ['api://bridge', '11111111-2222-3333-4444-555555555555'],
      issuers: [`https://login.microsoftonline.com/${tenant}/v2.0`, `https://sts.windows.net/${tenant}/`],
      metadataUrl: `https://login.microsoftonline.com/${tenant}/v2.0/.well-known/openid-configuration`,
    });
    expect(config.dataverseAppOperations).toBe(true);
    expect(loadConfig(base).auth).toBeUndefined();
  });

  it('names the bad Entra ID token setting', () => {
    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const auth = { ...base, BRIDGE_AUTH_TENANT_ID: tenant, BRIDGE_AUTH_AUDIENCE: 'api://bridge' };
    expect(() => loadConfig({ ...base, BRIDGE_AUTH_AUDIENCE: 'api://bridge' })).toThrow(
      'BRIDGE_AUTH_TENANT_ID is not set, but BRIDGE_AUTH_AUDIENCE is',
    );
    expect(() => loadConfig({ ...base, BRIDGE_AUTH_TENANT_ID: 'contoso' })).toThrow(
      /BRIDGE_AUTH_TENANT_ID must be a GUID/,
    );
    expect(() => loadConfig({ ...base, BRIDGE_AUTH_TENANT_ID: tenant })).toThrow(/BRIDGE_AUTH_AUDIENCE is not set/);
    expect(() => loadConfig({ ...auth, BRIDGE_AUTH_METADATA_URL: 'http://127.0.0.1:1/x' })).toThrow(
      /BRIDGE_AUTH_METADATA_URL must use https/,
    );
    expect(
      loadConfig({
        ...auth,
        AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
        BRIDGE_AUTH_METADATA_URL: 'http://127.0.0.1:1/x',
      }).auth?.metadataUrl,
    ).toBe('http://127.0.0.1:1/x');
    expect(() => loadConfig({ ...base, BRIDGE_DATAVERSE_APP_OPERATIONS: 'yes' })).toThrow(
      'BRIDGE_DATAVERSE_APP_OPERATIONS must be true or false, got "yes"',
    );
  });

  it('reads the delivery settings and local mode', () => {
    const config = loadConfig({
      ...base,
      BRIDGE_UNHEALTHY_AFTER: '3',
      BRIDGE_DELIVERY_TIMEOUT_SECONDS: '5',
      AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
    });
    expect(config.delivery).toEqual({ unhealthyAfter: 3, timeoutSeconds: 5 });
    expect(config.localMode).toBe(true);
    expect(loadConfig({ ...base, AZURE_FUNCTIONS_ENVIRONMENT: 'Production' }).localMode).toBe(false);
  });

  it('reads Event Grid, the topic pair, the prefix and the lease', () => {
    const config = loadConfig({
      ...base,
      EVENTGRID_TOPIC_ENDPOINT: 'https://t.westeurope-1.eventgrid.azure.net/api/events',
      EVENTGRID_TOPIC_KEY: ' k ',
      DATAVERSE_TOPIC_NAME: 'dataverse-topic',
      DATAVERSE_SUBSCRIPTION_NAME: 'bridge',
      BRIDGE_STORAGE_PREFIX: 'test1',
      BRIDGE_LEASE_SECONDS: '30',
    });
    expect(config.eventGrid).toEqual({ endpoint: 'https://t.westeurope-1.eventgrid.azure.net/api/events', key: 'k' });
    expect(config.topic).toEqual({ topicName: 'dataverse-topic', subscriptionName: 'bridge' });
    expect(config.storage.prefix).toBe('test1');
    expect(config.leaseSeconds).toBe(30);
  });

  it('prefers the dedicated storage connection, and supports identity-based storage', () => {
    expect(loadConfig({ ...base, BRIDGE_STORAGE_CONNECTION: 'X=1' }).storage).toMatchObject({
      connectionString: 'X=1',
    });
    const identity = loadConfig({
      DATAVERSE_QUEUE_NAME: 'q',
      AzureWebJobsStorage__accountName: 'acct',
      AzureWebJobsStorage__clientId: 'cid',
    });
    expect(identity.storage).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://acct.table.core.windows.net',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      queueServiceUri: 'https://acct.queue.core.windows.net',
      clientId: 'cid',
      prefix: 'bridge',
    });
  });

  it('names the missing or malformed setting', () => {
    expect(configError({ DATAVERSE_QUEUE_NAME: 'q' }).setting).toBe('AzureWebJobsStorage');
    expect(configError({ AzureWebJobsStorage: 'x' }).setting).toBe('DATAVERSE_QUEUE_NAME');
    expect(configError({ ...base, DATAVERSE_TOPIC_NAME: 't' }).message).toContain(
      'DATAVERSE_SUBSCRIPTION_NAME is not set',
    );
    expect(configError({ ...base, EVENTGRID_TOPIC_KEY: 'k' }).setting).toBe('EVENTGRID_TOPIC_ENDPOINT');
    expect(configError({ ...base, EVENTGRID_TOPIC_ENDPOINT: 'not a url' }).setting).toBe('EVENTGRID_TOPIC_ENDPOINT');
    expect(configError({ ...base, EVENTGRID_TOPIC_ENDPOINT: 'http://example.com/api/events' }).message).toContain(
      'https',
    );
    expect(configError({ ...base, BRIDGE_LEASE_SECONDS: '0' }).setting).toBe('BRIDGE_LEASE_SECONDS');
    expect(configError({ ...base, BRIDGE_UNHEALTHY_AFTER: 'often' }).message).toContain(
      'BRIDGE_UNHEALTHY_AFTER must be a whole number from 1 to 1000, got "often"',
    );
    expect(configError({ ...base, BRIDGE_DELIVERY_TIMEOUT_SECONDS: '1.5' }).setting).toBe(
      'BRIDGE_DELIVERY_TIMEOUT_SECONDS',
    );
    expect(configError({ ...base, BRIDGE_STORAGE_PREFIX: 'Bad-Prefix' }).setting).toBe('BRIDGE_STORAGE_PREFIX');
  });

  it('accepts http only for a local receiver', () => {
    expect(
      loadConfig({ ...base, EVENTGRID_TOPIC_ENDPOINT: 'http://127.0.0.1:7071/api/events' }).eventGrid?.endpoint,
    ).toBe('http://127.0.0.1:7071/api/events');
  });

  it('never echoes a secret value in its message', () => {
    const error = configError({
      ...base,
      EVENTGRID_TOPIC_ENDPOINT: 'ftp://SECRET-VALUE@example.com/api/events',
      EVENTGRID_TOPIC_KEY: 'SECRET-KEY',
    });
    expect(error.message).not.toContain('SECRET');
  });
});

const dev = { ...base, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' };
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0f4b8e59-2f5a-4c5e-9d0c-4b5b3a1f7e21';

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
