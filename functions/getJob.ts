import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/runtime.js';

/** One processing record, with its error details. */
export async function getJob(request: HttpRequest): Promise<HttpResponseInit> {
  const [{ jobs }, { getJob: getJobResponse }] = await Promise.all([
    getIngestDeps(),
    import('../shared/connector/jobs.js'), // on the first call, not at start-up
  ]);
  return getJobResponse(request.params.id ?? '', jobs);
}

app.http('getJob', { ...httpTrigger('getJob'), handler: getJob });
