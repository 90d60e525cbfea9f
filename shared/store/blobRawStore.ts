import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { RawRef, RawStore } from '../pipeline/jobs.js';
import { statusOf, toStorageError } from './errors.js';

/**
 * {@link RawStore} over Azure Blob Storage: one block blob per key, holding the exact bytes, with the content type
 * as the blob's `Content-Type`. Blobs have no practical size limit, unlike a Table property (64 KiB).
 *
 * Takes a container client, or a function that yields one (which may load the SDK and create the container first,
 * see `createStores`).
 *
 * @example
 * const raw = new BlobRawStore(BlobServiceClient.fromConnectionString(cs).getContainerClient('bridge-raw'));
 * const ref = await raw.put(jobId, body, 'application/json'); // { key, size, sha256, contentType }
 */
export class BlobRawStore implements RawStore {
  private readonly container: () => Promise<ContainerClient>;

  constructor(container: ContainerClient | (() => Promise<ContainerClient>)) {
    this.container = typeof container === 'function' ? container : async () => container;
  }

  async put(key: string, body: Uint8Array, contentType?: string): Promise<RawRef> {
    const container = await this.container();
    try {
      await container
        .getBlockBlobClient(key)
        .uploadData(body, contentType === undefined ? {} : { blobHTTPHeaders: { blobContentType: contentType } });
    } catch (error) {
      throw toStorageError(error, 'store raw body', `container ${container.containerName}`);
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    return { key, size: body.byteLength, sha256, ...(contentType === undefined ? {} : { contentType }) };
  }

  async get(key: string): Promise<Buffer | undefined> {
    const container = await this.container();
    try {
      // One GET rather than `downloadToBuffer` (a HEAD, then ranged GETs): one round trip, and a resumed stream is
      // pinned to the first response's ETag, so the bytes always come from one version of the blob.
      const response = await container.getBlockBlobClient(key).download(0, undefined, { maxRetryRequests: 3 });
      const chunks: Buffer[] = [];
      if (response.readableStreamBody) {
        for await (const chunk of response.readableStreamBody) {
          chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        }
      }
      return Buffer.concat(chunks);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toStorageError(error, 'read raw body', `container ${container.containerName}`);
    }
  }
}
