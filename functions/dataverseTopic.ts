import { app, type InvocationContext } from '@azure/functions';
import { getConfig, SETTINGS } from '../shared/config.js';
import type { IngestResult } from '../shared/pipeline/ingest.js';
import { getIngestDeps } from '../shared/runtime.js';

/** Dataverse contexts from a Service Bus topic subscription (contract: Topic). */
export async function dataverseTopic(messages: unknown, context: InvocationContext): Promise<IngestResult> {
  const [deps, { handleServiceBusBatch }] = await Promise.all([
    getIngestDeps(),
    import('../shared/pipeline/serviceBus.js'), // on the first batch, not at start-up
  ]);
  // The host ignores the result of a Service Bus trigger; the local host's admin invoke answers with it.
  return handleServiceBusBatch(messages, context.triggerMetadata, 'topic', { ...deps, log: context });
}

// Registered only when the topic is configured: most deployments use the queue or the webhook alone.
if (getConfig().topic) {
  app.serviceBusTopic('dataverseTopic', {
    connection: SETTINGS.serviceBusConnection,
    topicName: `%${SETTINGS.topicName}%`,
    subscriptionName: `%${SETTINGS.subscriptionName}%`,
    cardinality: 'many',
    ...{ dataType: 'binary' },
    handler: dataverseTopic,
  });
}
