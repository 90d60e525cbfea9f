import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/runtime.js';

/** Runs a rejected or failed job's kept raw bytes through the pipeline again. */
export async function replayJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const [deps, { replayJob: replayJobResponse }] = await Promise.all([
    getIngestDeps(),
    import('../shared/connector/replay.js'), // on the first call, not at start-up: the pipeline comes with it
  ]);
  return replayJobResponse(request.params.id ?? '', { ...deps, log: context });
}

app.http('replayJob', { ...httpTrigger('replayJob'), handler: replayJob });
