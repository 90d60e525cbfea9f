import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { httpTrigger } from '../shared/connector/operations.js';
import { getSubscriptionStore } from '../shared/runtime.js';

/**
 * The connector's webhook trigger: Power Automate posts its callback URL here when a flow using the trigger is saved,
 * and gets 201 with a Location it calls (DELETE) when the flow is removed.
 */
export async function createSubscription(request: HttpRequest): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up.
  const [
    { publicUrl },
    { readJsonBody },
    { createSubscription: createSubscriptionResponse, MAX_SUBSCRIPTION_BODY_BYTES },
  ] = await Promise.all([
    import('../shared/connector/openApiDefinition.js'),
    import('../shared/connector/requests.js'),
    import('../shared/connector/subscriptions.js'),
  ]);
  const read = readJsonBody(
    new Uint8Array(await request.arrayBuffer()),
    request.headers.get('content-type'),
    'createSubscription',
    MAX_SUBSCRIPTION_BODY_BYTES,
  );
  if (!read.ok) return read.response;
  const url = publicUrl(new URL(request.url), request.headers.get('x-forwarded-host'));
  return createSubscriptionResponse(read.body, url, await getSubscriptionStore(), {
    localMode: getConfig().localMode,
  });
}

app.http('createSubscription', { ...httpTrigger('createSubscription'), handler: createSubscription });
