import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config.js';
import type { PublishEventRequest } from '../shared/connector/events.js';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/runtime.js';

/** Publishes an event on demand (from an app or a flow) through the same pipeline as Dataverse's contexts. */
export async function publishEvent(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // Loaded on the first call, not at start-up: the pipeline comes with them.
  const [{ readJsonBody }, { publishEvent: publishEventResponse }] = await Promise.all([
    import('../shared/connector/requests.js'),
    import('../shared/connector/events.js'),
  ]);
  const read = readJsonBody<PublishEventRequest>(
    new Uint8Array(await request.arrayBuffer()),
    request.headers.get('content-type'),
    'publishEvent',
  );
  if (!read.ok) return read.response;
  return publishEventResponse(read.body, { ...(await getIngestDeps()), log: context });
}

getConfig(); // validates every setting at start-up

app.http('publishEvent', { ...httpTrigger('publishEvent'), handler: publishEvent });
