import { app, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { listSubscriptions as listSubscriptionsResponse } from '../shared/connector/subscriptions.js';
import { getSubscriptionStore } from '../shared/subscriptions/runtime.js';

/** Every webhook-trigger subscription with its health (secrets and callback query strings left out). */
export async function listSubscriptions(): Promise<HttpResponseInit> {
  return listSubscriptionsResponse(await getSubscriptionStore());
}

app.http('listSubscriptions', { ...httpTrigger('listSubscriptions'), handler: listSubscriptions });
