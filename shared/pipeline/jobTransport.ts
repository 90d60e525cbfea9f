import type { TransportInfo } from '../dataverse/transport.js';
import type { JobRecord } from './jobs.js';

/**
 * The transport facts recorded with a job (see `replayableTransport`), for running its kept bytes through the
 * pipeline again: a replay, or the release of a held job.
 */
export function transportOfJob(job: JobRecord): TransportInfo {
  if (!job.transport) return {};
  const facts = JSON.parse(job.transport) as {
    contentType?: string;
    applicationProperties?: Record<string, unknown>;
    headers?: Record<string, string>;
  };
  return {
    ...(facts.contentType ? { contentType: facts.contentType } : {}),
    ...(facts.applicationProperties ? { applicationProperties: facts.applicationProperties } : {}),
    ...(facts.headers ? { headers: facts.headers } : {}),
  };
}
