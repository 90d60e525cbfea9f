import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { getChangeStore } from '../shared/runtime.js';

/**
 * Subscribed to the Event Grid topic (CloudEvents schema): keeps the change log and the latest snapshot of each row.
 * Storage failures fail the invocation, so Event Grid redelivers; events that are not ours are logged and dropped.
 */
export async function projectChanges(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const [store, { projectChange }] = await Promise.all([
    getChangeStore(),
    import('../shared/changes/projectChanges.js'), // on the first event, not at start-up
  ]);
  await projectChange(event, { store, log: context });
}

getConfig(); // validates every setting at start-up

app.eventGrid('projectChanges', { handler: projectChanges });
