import { app, type InvocationContext } from '@azure/functions';
import { getConfig, SETTINGS } from '../shared/config.js';
import { getIngestDeps } from '../shared/pipeline/runtime.js';
import { handleServiceBusBatch } from '../shared/pipeline/serviceBus.js';

/** Dataverse contexts from a Service Bus topic subscription (contract: Topic). */
export async function dataverseTopic(messages: unknown, context: InvocationContext): Promise<void> {
  const deps = await getIngestDeps();
  await handleServiceBusBatch(messages, context.triggerMetadata, 'topic', { ...deps, log: context });
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
