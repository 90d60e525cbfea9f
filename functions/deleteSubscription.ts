import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getSubscriptionStore } from '../shared/runtime.js';

/**
 * Removes a webhook-trigger subscription. Anonymous at the host, because Power Automate calls the Location URL with no
 * API key: the `token` that URL carries is the credential.
 */
export async function deleteSubscription(request: HttpRequest): Promise<HttpResponseInit> {
  const { deleteSubscription: deleteSubscriptionResponse } = await import('../shared/connector/subscriptions.js');
  return deleteSubscriptionResponse(request.params.id ?? '', request.query.get('token'), await getSubscriptionStore());
}

app.http('deleteSubscription', { ...httpTrigger('deleteSubscription'), handler: deleteSubscription });
