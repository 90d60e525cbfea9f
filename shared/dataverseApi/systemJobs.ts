/**
 * Dataverse's view of the bridge: the steps `dataverse-bridge register` created (marked in their description) and the
 * system jobs (`asyncoperation` rows) those steps left — what Microsoft's set-up guide asks users to check in the
 * System Jobs grid. Values follow the `asyncoperation` and `sdkmessageprocessingstep` table references on Microsoft
 * Learn (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/asyncoperation, …/sdkmessageprocessingstep).
 */
import type { DataverseApi, Row } from './types.js';

/** Written into the description of every step `register` creates; `--prune` and health look for it. */
export const STEP_MARKER = '[dataverse-bridge]';

/** `asyncoperation.statuscode` labels. */
export const JOB_STATUS: Readonly<Record<number, string>> = {
  0: 'Waiting For Resources',
  10: 'Waiting',
  20: 'In Progress',
  21: 'Pausing',
  22: 'Canceling',
  30: 'Succeeded',
  31: 'Failed',
  32: 'Canceled',
};

export const JOB_FAILED = 31;
/** Jobs that did not run yet, or that wait for a retry (`Waiting` is where failed posts sit between retries). */
export const JOB_WAITING = new Set([0, 10, 21]);

/** One system job of a step. */
export interface SystemJob {
  id: string;
  stepId: string;
  name: string;
  statusCode: number;
  status: string;
  createdOn: string;
  /** `friendlymessage` when set, else `message`: why it failed or waits. */
  message?: string;
}

const JOB_COLUMNS = [
  'asyncoperationid',
  'name',
  'statecode',
  'statuscode',
  'message',
  'friendlymessage',
  'createdon',
  '_owningextensionid_value',
];

/** The steps `register` created (any endpoint), by their marker. */
export async function bridgeSteps(api: DataverseApi, select: string[] = ['name']): Promise<Row[]> {
  // `contains` becomes SQL LIKE, where `[…]` is a character class: the filter narrows without the brackets, and the
  // exact marker is checked here.
  const { rows } = await api.list('sdkmessageprocessingstep', {
    select: [...new Set(['sdkmessageprocessingstepid', 'description', ...select])],
    filter: `contains(description,'${STEP_MARKER.slice(1, -1)}')`,
  });
  return rows.filter((row) => String(row.description ?? '').includes(STEP_MARKER));
}

/** The system jobs of these steps created since `since`, newest first. */
export async function systemJobs(api: DataverseApi, stepIds: string[], since: Date): Promise<SystemJob[]> {
  const jobs: SystemJob[] = [];
  // One query per step: the filter stays within what every Dataverse version (and the double) parses.
  for (const stepId of stepIds) {
    let page = await api.list('asyncoperation', {
      select: JOB_COLUMNS,
      filter: `_owningextensionid_value eq ${stepId} and createdon ge ${since.toISOString()}`,
      orderBy: ['createdon desc'],
      pageSize: 500,
    });
    for (;;) {
      for (const row of page.rows) jobs.push(toJob(row, stepId));
      if (!page.nextLink || jobs.length >= 5000) break;
      page = await api.nextPage(page.nextLink);
    }
  }
  return jobs.sort((a, b) => (a.createdOn < b.createdOn ? 1 : a.createdOn > b.createdOn ? -1 : 0));
}

/** How many system jobs of the bridge's steps failed since `since` (for the health answer). */
export async function failedBridgeJobs(api: DataverseApi, since: Date): Promise<number> {
  const steps = await bridgeSteps(api);
  const jobs = await systemJobs(
    api,
    steps.map((s) => String(s.sdkmessageprocessingstepid)),
    since,
  );
  return jobs.filter((j) => j.statusCode === JOB_FAILED).length;
}

/**
 * For the health answer: the failed system jobs of the bridge's steps in the last hour. Never throws: an application
 * user that may not read system jobs gets a note (with the error code only: the answer is anonymous) instead.
 */
export async function lastHourFailures(
  api: DataverseApi,
  now: Date = new Date(),
): Promise<{ failedSystemJobsLastHour?: number; message?: string }> {
  try {
    const failed = await failedBridgeJobs(api, new Date(now.getTime() - 3_600_000));
    return failed === 0
      ? { failedSystemJobsLastHour: 0 }
      : {
          failedSystemJobsLastHour: failed,
          message: `${failed} system job${failed === 1 ? '' : 's'} of the bridge's steps failed in the last hour: run "dataverse-bridge status" for Dataverse's messages`,
        };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      message: `system jobs were not read (${typeof code === 'string' ? code : 'error'}): give the application user read access to sdkmessageprocessingstep and asyncoperation`,
    };
  }
}

function toJob(row: Row, stepId: string): SystemJob {
  const statusCode = Number(row.statuscode);
  const message = (row.friendlymessage as string | null) || (row.message as string | null) || undefined;
  return {
    id: String(row.asyncoperationid),
    stepId,
    name: String(row.name ?? ''),
    statusCode,
    status: JOB_STATUS[statusCode] ?? `status ${statusCode}`,
    createdOn: String(row.createdon ?? ''),
    ...(message ? { message } : {}),
  };
}
