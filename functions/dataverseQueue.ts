import { app, type InvocationContext } from '@azure/functions';
import { getConfig, SETTINGS } from '../shared/config.js';
import type { IngestResult } from '../shared/pipeline/ingest.js';
import { getIngestDeps } from '../shared/runtime.js';

/** Dataverse contexts from the Service Bus queue a Dataverse service endpoint posts to (contract: Queue). */
export async function dataverseQueue(messages: unknown, context: InvocationContext): Promise<IngestResult> {
  const [deps, { handleServiceBusBatch }] = await Promise.all([
    getIngestDeps(),
    import('../shared/pipeline/serviceBus.js'), // on the first batch, not at start-up
  ]);
  // The host ignores the result of a Service Bus trigger; the local host's admin invoke answers with it.
  return handleServiceBusBatch(messages, context.triggerMetadata, 'queue', { ...deps, log: context });
}

getConfig(); // validates every setting now, so a bad one fails the app at start-up, by name

app.serviceBusQueue('dataverseQueue', {
  connection: SETTINGS.serviceBusConnection,
  queueName: `%${SETTINGS.queueName}%`,
  cardinality: 'many',
  // Raw bytes, not the host's JSON.parse of them: rejected messages are kept byte-for-byte.
  ...{ dataType: 'binary' },
  handler: dataverseQueue,
});
