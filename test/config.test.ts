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
    });
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
