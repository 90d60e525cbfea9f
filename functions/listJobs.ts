import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { listJobs as listJobsResponse } from '../shared/connector/jobs.js';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/pipeline/runtime.js';

/** Processing records of every message, filtered by status and time, newest first within a page. */
export async function listJobs(request: HttpRequest): Promise<HttpResponseInit> {
  const { jobs } = await getIngestDeps();
  return listJobsResponse(new URL(request.url), jobs);
}

app.http('listJobs', { ...httpTrigger('listJobs'), handler: listJobs });
