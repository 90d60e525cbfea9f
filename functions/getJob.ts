import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getJob as getJobResponse } from '../shared/connector/jobs.js';
import { httpTrigger } from '../shared/connector/operations.js';
import { getIngestDeps } from '../shared/pipeline/runtime.js';

/** One processing record, with its error details. */
export async function getJob(request: HttpRequest): Promise<HttpResponseInit> {
  const { jobs } = await getIngestDeps();
  return getJobResponse(request.params.id ?? '', jobs);
}

app.http('getJob', { ...httpTrigger('getJob'), handler: getJob });
