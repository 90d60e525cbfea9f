import type { QueueClient } from '@azure/storage-queue';
import { type HoldCheck, type HoldQueue, holdCheckText } from '../pipeline/hold.js';
import { toStorageError } from './errors.js';

/**
 * {@link HoldQueue} over Azure Queue Storage: one message per check, sent with a visibility timeout (the delay) and no
 * expiry (`messageTimeToLive` -1), so a held job cannot be forgotten however long Dataverse stays unavailable.
 *
 * The text is base64-encoded: the Queue trigger's default `messageEncoding` (host.json `extensions.queues`, Microsoft
 * Learn, "Azure Queue storage trigger and bindings for Azure Functions", host.json settings) decodes it so.
 *
 * @example
 * const queue = new StorageHoldQueue(QueueServiceClient.fromConnectionString(cs).getQueueClient('bridge-verify'));
 * await queue.enqueue({ jobId, check: 0 }, 5);
 */
export class StorageHoldQueue implements HoldQueue {
  private readonly client: () => Promise<QueueClient>;

  constructor(client: QueueClient | (() => Promise<QueueClient>)) {
    this.client = typeof client === 'function' ? client : async () => client;
  }

  async enqueue(check: HoldCheck, delaySeconds: number): Promise<void> {
    const client = await this.client();
    try {
      await client.sendMessage(Buffer.from(holdCheckText(check), 'utf8').toString('base64'), {
        visibilityTimeout: Math.max(0, Math.round(delaySeconds)),
        messageTimeToLive: -1,
      });
    } catch (error) {
      throw toStorageError(error, 'send verification message', `queue ${client.name}`);
    }
  }
}
