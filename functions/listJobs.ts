import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/runtime.js';

/** Processing records of every message, filtered by status and time, newest first within a page. */
export async function listJobs(request: HttpRequest): Promise<HttpResponseInit> {
  const [{ jobs }, { listJobs: listJobsResponse }] = await Promise.all([
    getIngestDeps(),
    import('../shared/connector/jobs.js'), // on the first call, not at start-up
  ]);
  return listJobsResponse(new URL(request.url), jobs);
}

app.http('listJobs', { ...httpTrigger('listJobs'), handler: listJobs });
