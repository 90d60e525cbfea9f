import { app, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getSubscriptionStore } from '../shared/runtime.js';

/** Every webhook-trigger subscription with its health (secrets and callback query strings left out). */
export async function listSubscriptions(): Promise<HttpResponseInit> {
  const { listSubscriptions: listSubscriptionsResponse } = await import('../shared/connector/subscriptions.js');
  return listSubscriptionsResponse(await getSubscriptionStore());
}

app.http('listSubscriptions', { ...httpTrigger('listSubscriptions'), handler: listSubscriptions });
