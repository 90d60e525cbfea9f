import { getConfig } from '../config.js';
import { lazy } from '../lazy.js';
import { getStorage } from '../runtime.js';
import type { DeliveryDeps } from './deliver.js';
import type { SubscriptionStore } from './types.js';

const deps = lazy(build);

/**
 * What `deliverSubscriptions` needs, built on first use and shared by every invocation of the process: the
 * subscription store and delivery log over the app's storage (tables `<prefix>subscriptions` and
 * `<prefix>deliveries`), an {@link HttpCallbackSender} in the app's mode, and the `delivery` settings.
 */
export function getDeliveryDeps(): Promise<DeliveryDeps> {
  return deps.get();
}

/** The subscription store, for the connector's subscription endpoints. */
export async function getSubscriptionStore(): Promise<SubscriptionStore> {
  return (await getDeliveryDeps()).subscriptions;
}

async function build(): Promise<DeliveryDeps> {
  const config = getConfig();
  const [storage, { TableSubscriptionStore }, { TableDeliveryLog }, { HttpCallbackSender }] = await Promise.all([
    getStorage(),
    import('../store/tableSubscriptionStore.js'),
    import('../store/tableDeliveryLog.js'),
    import('./callbackSender.js'),
  ]);
  return {
    subscriptions: new TableSubscriptionStore(storage.table(storage.names.subscriptions)),
    deliveries: new TableDeliveryLog(storage.table(storage.names.deliveries)),
    sender: new HttpCallbackSender({ localMode: config.localMode }),
    unhealthyAfter: config.delivery.unhealthyAfter,
    timeoutMs: config.delivery.timeoutSeconds * 1000,
    localMode: config.localMode,
  };
}
