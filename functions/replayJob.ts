import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { replayJob as replayJobResponse } from '../shared/connector/replay.js';
import { getIngestDeps } from '../shared/pipeline/runtime.js';

/** Runs a rejected or failed job's kept raw bytes through the pipeline again. */
export async function replayJob(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return replayJobResponse(request.params.id ?? '', { ...(await getIngestDeps()), log: context });
}

app.http('replayJob', { ...httpTrigger('replayJob'), handler: replayJob });
