import { app, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { getDeliveryDeps } from '../shared/runtime.js';

/**
 * Posts each event from the Event Grid topic to the webhook-trigger subscriptions whose filters select it. Throws
 * when a healthy subscription failed, so Event Grid retries the event (only the subscriptions not yet served).
 */
export async function deliverSubscriptions(event: unknown, context: InvocationContext): Promise<void> {
  const [deps, { deliverEvent }] = await Promise.all([
    getDeliveryDeps(),
    import('../shared/subscriptions/deliver.js'), // on the first event, not at start-up
  ]);
  const summary = await deliverEvent(event, { ...deps, log: context });
  if (summary.matched > 0) {
    context.log(
      `Event ${(event as { id?: unknown }).id}: ${summary.matched} matching, ${summary.delivered} delivered, ` +
        `${summary.skipped} already served, ${summary.failed} failed.`,
    );
  }
}

getConfig(); // validates every setting at start-up

app.eventGrid<unknown>('deliverSubscriptions', { handler: deliverSubscriptions });
