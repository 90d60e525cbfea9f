import { randomBytes } from 'node:crypto';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StorageSettings } from '../../shared/config.js';
import type { NewJob } from '../../shared/pipeline/jobs.js';
import { createStores, openContainerClient, openTableClient, storageNames } from '../../shared/store/connect.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { testAzurite } from '../helpers/azurite.js';

const azurite = testAzurite();

afterEach(() => {
  vi.restoreAllMocks();
});

/** Connection-string settings with a prefix no other test uses. */
function settings(): StorageSettings & { kind: 'connectionString' } {
  return {
    kind: 'connectionString',
    connectionString: azurite.connectionString,
    prefix: `t${randomBytes(5).toString('hex')}`,
  };
}

function job(id: string): NewJob {
  const now = new Date().toISOString();
  return { id, status: 'received', attempts: 1, receivedAt: now, updatedAt: now, source: 'api' };
}

async function tableExists(name: string): Promise<boolean> {
  const service = TableServiceClient.fromConnectionString(azurite.connectionString, { allowInsecureConnection: true });
  for await (const table of service.listTables({ queryOptions: { filter: `TableName eq '${name}'` } })) {
    if (table.name === name) return true;
  }
  return false;
}

async function containerExists(name: string): Promise<boolean> {
  return BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name).exists();
}

describe('createStores with a connection string', () => {
  it('names the table and container after the prefix', () => {
    expect(storageNames('bridge')).toEqual({
      jobs: 'bridgejobs',
      changes: 'bridgechanges',
      rows: 'bridgerows',
      tables: 'bridgetables',
      subscriptions: 'bridgesubscriptions',
      deliveries: 'bridgedeliveries',
      reconcile: 'bridgereconcile',
      container: 'bridge-raw',
      verifyQueue: 'bridge-verify',
    });
  });

  it('creates the table and container on first use, not before, and the stores work', async () => {
    const config = settings();
    const names = storageNames(config.prefix);
    const { jobs, raw } = createStores(config);
    expect(await tableExists(names.jobs)).toBe(false);
    expect(await containerExists(names.container)).toBe(false);

    const { created, job: stored } = await jobs.create(job('a1'));
    expect(created).toBe(true);
    expect(await tableExists(names.jobs)).toBe(true);
    expect(await jobs.get('a1')).toEqual(stored);

    const ref = await raw.put('a1', new Uint8Array([1, 2, 3]), 'application/json');
    expect(ref.size).toBe(3);
    expect(await containerExists(names.container)).toBe(true);
    expect([...((await raw.get('a1')) as Buffer)]).toEqual([1, 2, 3]);
  });

  it('creates the table and container once for concurrent first calls', async () => {
    const createTable = vi.spyOn(TableClient.prototype, 'createTable');
    const createContainer = vi.spyOn(ContainerClient.prototype, 'createIfNotExists');
    const { jobs, raw } = createStores(settings());

    const results = await Promise.all([
      jobs.create(job('b1')),
      jobs.create(job('b2')),
      jobs.get('b3'),
      jobs.list({}),
      raw.put('b1', new Uint8Array([9])),
      raw.get('b2'),
    ]);
    expect(results[0].created && results[1].created).toBe(true);
    expect(results[2]).toBeUndefined();
    expect(results[5]).toBeUndefined();
    expect(createTable).toHaveBeenCalledTimes(1);
    expect(createContainer).toHaveBeenCalledTimes(1);

    await jobs.get('b1');
    await raw.get('b1');
    expect(createTable).toHaveBeenCalledTimes(1);
    expect(createContainer).toHaveBeenCalledTimes(1);
  });

  it('lets two instances (two processes) create the same table and container concurrently', async () => {
    const config = settings();
    const first = createStores(config);
    const second = createStores(config);
    const [a, b] = await Promise.all([first.jobs.create(job('c1')), second.jobs.create(job('c1'))]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    await Promise.all([first.raw.put('c1', new Uint8Array([1])), second.raw.put('c2', new Uint8Array([2]))]);
    expect([...((await first.raw.get('c2')) as Buffer)]).toEqual([2]);
  });

  it('forgets a failed table creation, so the next call tries again', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      name: 'RestError',
      code: 'ECONNREFUSED',
    });
    const createTable = vi.spyOn(TableClient.prototype, 'createTable').mockRejectedValueOnce(refused);
    const config = settings();
    const { jobs } = createStores(config);

    const error = await jobs.get('d1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect((error as StorageUnavailableError).message).toContain(`create table on table ${config.prefix}jobs`);
    expect((error as StorageUnavailableError).message).not.toMatch(/AccountKey/i);

    expect(await jobs.get('d1')).toBeUndefined();
    expect(createTable).toHaveBeenCalledTimes(2);
  });

  it('accepts "UseDevelopmentStorage=true" in both SDKs, pointing at the default Azurite ports', async () => {
    const dev: StorageSettings = {
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
      prefix: 'dev',
    };
    const table = await openTableClient(dev);
    const container = await openContainerClient(dev);
    expect(table.url).toBe('http://127.0.0.1:10002/devstoreaccount1');
    expect(table.tableName).toBe('devjobs');
    expect(container.url).toBe('http://127.0.0.1:10000/devstoreaccount1/dev-raw');
    expect(createStores(dev).jobs).toBeDefined();
  });
});

describe('createStores with an identity', () => {
  const identity: StorageSettings = {
    kind: 'identity',
    tableServiceUri: 'https://acct.table.core.windows.net',
    blobServiceUri: 'https://acct.blob.core.windows.net',
    clientId: '00000000-0000-0000-0000-000000000001',
    prefix: 'bridge',
  };

  it('builds clients for the service URIs without a network call', async () => {
    const createTable = vi.spyOn(TableClient.prototype, 'createTable');
    const createContainer = vi.spyOn(ContainerClient.prototype, 'createIfNotExists');
    const stores = createStores(identity);
    expect(typeof stores.jobs.get).toBe('function');
    expect(typeof stores.raw.put).toBe('function');

    const table = await openTableClient(identity);
    const container = await openContainerClient(identity);
    expect(table.url).toBe('https://acct.table.core.windows.net');
    expect(table.tableName).toBe('bridgejobs');
    expect(container.url).toBe('https://acct.blob.core.windows.net/bridge-raw');
    expect(container.containerName).toBe('bridge-raw');
    expect(createTable).not.toHaveBeenCalled();
    expect(createContainer).not.toHaveBeenCalled();
  });
});
