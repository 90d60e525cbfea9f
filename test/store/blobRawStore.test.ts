import { createHash, randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { BlobRawStore } from '../../shared/store/blobRawStore.js';
import { StorageUnavailableError } from '../../shared/store/errors.js';
import { testAzurite, unreachableConnectionString } from '../helpers/azurite.js';

const azurite = testAzurite();

/** A store over a fresh container, so tests never see each other's blobs. */
async function freshStore(): Promise<{ store: BlobRawStore; container: ContainerClient }> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    `raw-${randomBytes(6).toString('hex')}`,
  );
  await container.create();
  return { store: new BlobRawStore(container), container };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('BlobRawStore', () => {
  it.each([
    { name: 'empty', size: 0, contentType: 'application/json' },
    { name: '1 KB', size: 1024, contentType: 'application/msbin1' },
    { name: '300 KB (over the 64 KB Table property limit)', size: 300 * 1024, contentType: 'application/octet-stream' },
  ])('round-trips a $name body byte for byte', async ({ size, contentType }) => {
    const { store, container } = await freshStore();
    const body = new Uint8Array(randomBytes(size));
    const key = randomBytes(16).toString('hex');

    const ref = await store.put(key, body, contentType);
    expect(ref).toEqual({ key, size, sha256: sha256(body), contentType });

    const read = await store.get(key);
    expect(read).toBeInstanceOf(Buffer);
    expect(read?.length).toBe(size);
    expect(read?.equals(body)).toBe(true);
    expect(sha256(read as Buffer)).toBe(ref.sha256);
    const properties = await container.getBlockBlobClient(key).getProperties();
    expect(properties.contentType).toBe(contentType);
  });

  it('keeps bytes that are not valid UTF-8 exactly', async () => {
    const { store } = await freshStore();
    const body = Uint8Array.from([0xff, 0xfe, 0x00, 0x40, 0x03, 0xc3, 0x28, 0x0d, 0x0a]);
    await store.put('bytes', body);
    expect([...((await store.get('bytes')) as Buffer)]).toEqual([...body]);
  });

  it('leaves contentType out of the reference when none is given', async () => {
    const { store } = await freshStore();
    const body = new TextEncoder().encode('{"a":1}');
    const ref = await store.put('no-type', body);
    expect(ref).toEqual({ key: 'no-type', size: 7, sha256: sha256(body) });
  });

  it('overwrites the bytes under an existing key', async () => {
    const { store } = await freshStore();
    await store.put('same', new Uint8Array([1, 2, 3]));
    await store.put('same', new Uint8Array([4, 5]));
    expect([...((await store.get('same')) as Buffer)]).toEqual([4, 5]);
  });

  it('returns undefined for a missing key', async () => {
    const { store } = await freshStore();
    expect(await store.get('missing')).toBeUndefined();
  });

  it('raises StorageUnavailableError naming the operation and container when storage is down', async () => {
    const connectionString = await unreachableConnectionString(azurite, 'Blob');
    const container = BlobServiceClient.fromConnectionString(connectionString, {
      retryOptions: { maxTries: 1 },
    }).getContainerClient('down-raw');
    const store = new BlobRawStore(container);
    const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] as string;

    for (const [operation, attempt] of [
      ['store raw body', () => store.put('k', new Uint8Array([1]), 'text/plain')],
      ['read raw body', () => store.get('k')],
    ] as const) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageUnavailableError);
      const unavailable = error as StorageUnavailableError;
      expect(unavailable.transient).toBe(true);
      expect(unavailable.reason).toBe('ECONNREFUSED');
      expect(unavailable.message).toContain(`${operation} on container down-raw`);
      expect(unavailable.message).not.toMatch(/AccountKey/i);
      expect(unavailable.message).not.toContain(key);
    }
  });
});
