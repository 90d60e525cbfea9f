import { InvalidContinuationError } from '../errors.js';
import {
  JOB_ID_PATTERN,
  JOB_STATUSES,
  type JobRecord,
  type JobStatus,
  type JobStore,
  type RawRef,
} from '../pipeline/jobs.js';
import { pageResponse, readPageQuery } from './paging.js';
import { type ApiResponse, apiError } from './responses.js';

const STATUSES = JOB_STATUSES;

/** A job as the API shows it: the record without internal fields (ETag, lease, replay facts, blob key). */
export type JobView = Omit<JobRecord, 'etag' | 'leaseUntil' | 'transport' | 'raw'> & { raw?: Omit<RawRef, 'key'> };

export function toJobView(job: JobRecord): JobView {
  const { etag: _etag, leaseUntil: _lease, transport: _transport, raw, ...view } = job;
  return {
    ...view,
    ...(raw
      ? { raw: { size: raw.size, sha256: raw.sha256, ...(raw.contentType ? { contentType: raw.contentType } : {}) } }
      : {}),
  };
}

/**
 * `GET /api/jobs?status=&since=&top=&continuation=`: processing records, a page at a time, with a `nextLink` to the
 * next page (`x-ms-pageable`).
 */
export async function listJobs(url: URL, jobs: JobStore): Promise<ApiResponse> {
  const params = url.searchParams;
  const status = params.get('status') ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as JobStatus)) {
    return apiError(400, 'InvalidParameter', `status must be one of ${STATUSES.join(', ')}.`, 'status');
  }
  const query = readPageQuery(params);
  if ('status' in query) return query;
  let page: Awaited<ReturnType<JobStore['list']>>;
  try {
    page = await jobs.list({ ...(status ? { status: status as JobStatus } : {}), ...query });
  } catch (error) {
    if (error instanceof InvalidContinuationError) {
      return apiError(400, 'InvalidParameter', error.message, 'continuation');
    }
    throw error;
  }
  return pageResponse(url, page.jobs.map(toJobView), page.continuation);
}

/** `GET /api/jobs/{id}`: one job, or 404. */
export async function getJob(id: string, jobs: JobStore): Promise<ApiResponse> {
  if (!JOB_ID_PATTERN.test(id))
    return apiError(400, 'InvalidParameter', 'id must be a job id: 32 hexadecimal characters.', 'id');
  const job = await jobs.get(id);
  return job ? { status: 200, jsonBody: toJobView(job) } : apiError(404, 'NotFound', 'No job has this id.', 'id');
}
