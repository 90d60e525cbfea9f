import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import { getIngestDeps } from '../shared/runtime.js';

/**
 * Dataverse's webhook service endpoint posts here. Register it with authentication "WebhookKey" and the function key
 * as the value: Dataverse then sends it as `?code=`, which the Functions host checks before we run.
 */
export async function dataverseWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const [deps, { handleWebhook }] = await Promise.all([
    getIngestDeps(),
    import('../shared/pipeline/webhook.js'), // on the first call, not at start-up
  ]);
  const body = new Uint8Array(await request.arrayBuffer());
  const response = await handleWebhook({ body, headers: request.headers }, { ...deps, log: context });
  return {
    status: response.status,
    jsonBody: response.jsonBody,
    ...(response.headers ? { headers: response.headers } : {}),
  };
}

getConfig(); // validates every setting at start-up

app.http('dataverseWebhook', {
  route: 'dataverse/webhook',
  methods: ['POST'],
  authLevel: 'function',
  handler: dataverseWebhook,
});
