import type { Command } from 'commander';
import { ConfigError } from '../../shared/config.js';
import { isDataverseError } from '../../shared/dataverseApi/errors.js';
import { JOB_FAILED, JOB_WAITING, type SystemJob, systemJobs } from '../../shared/dataverseApi/systemJobs.js';
import type { Row } from '../../shared/dataverseApi/types.js';
import { commandSettings, type OpenDataverse, openDataverseClient } from './dataverseCommand.js';
import type { Writable } from './output.js';
import { RegistrationFileError, readRegistrationFile } from './registrationFile.js';
import { MODE_NAME, quote, STAGE_NAME } from './registrationPlan.js';

/** Options of `dataverse-bridge status`. */
export interface StatusOptions {
  /** The registration file: its endpoint's name is looked up. */
  config?: string;
  /** Or the endpoint's name itself. */
  endpoint?: string;
  /** How far back to read system jobs (default 24). */
  hours?: string;
  json?: boolean;
  settings?: string;
}

const CONTRACT: Record<number, string> = { 2: 'queue', 5: 'topic', 8: 'webhook' };
/** At most this many failed or waiting jobs are listed one by one. */
const LISTED = 20;

/**
 * `dataverse-bridge status`: the registered endpoint, its steps (enabled or not) and the recent system jobs of those
 * steps — counts by status, then the failed and waiting ones with their message. Returns 0, 1 when a job failed, 2 on
 * bad input.
 */
export async function runStatus(
  options: StatusOptions,
  out: Writable,
  err: Writable,
  env: NodeJS.ProcessEnv = process.env,
  open: OpenDataverse = openDataverseClient,
): Promise<number> {
  let name: string;
  let hours: number;
  let settings: ReturnType<typeof commandSettings>;
  try {
    if (options.config === undefined && options.endpoint === undefined) {
      throw new Error('give --config <registration file> or --endpoint <name>');
    }
    name = options.endpoint ?? readRegistrationFile(options.config as string).registration.endpoint.name;
    hours = Number(options.hours ?? 24);
    if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 30) {
      throw new Error(`--hours must be a whole number from 1 to 720, not "${options.hours}"`);
    }
    settings = commandSettings(options.settings, env);
  } catch (error) {
    const errors = Array.isArray(error) ? error : [error];
    for (const e of errors) err.write(`error: ${(e as Error).message}\n`);
    if (!errors.every((e) => e instanceof Error || e instanceof RegistrationFileError)) throw error;
    return 2;
  }
  try {
    const api = await open(settings);
    const { rows: endpoints } = await api.list('serviceendpoint', {
      select: ['serviceendpointid', 'name', 'contract', 'namespaceaddress', 'path', 'url'],
      filter: `name eq ${quote(name)}`,
    });
    const endpoint = endpoints[0];
    if (!endpoint) {
      err.write(
        `error: no service endpoint is named "${name}" in ${settings.url}; run "dataverse-bridge register" first.\n`,
      );
      return 2;
    }
    const { rows: steps } = await api.list('sdkmessageprocessingstep', {
      select: ['sdkmessageprocessingstepid', 'name', 'stage', 'mode', 'statecode', 'filteringattributes'],
      filter: `_eventhandler_value eq ${String(endpoint.serviceendpointid)}`,
      orderBy: ['name asc'],
    });
    const since = new Date(Date.now() - hours * 3_600_000);
    const jobs = await systemJobs(
      api,
      steps.map((s) => String(s.sdkmessageprocessingstepid)),
      since,
    );
    const counts: Record<string, number> = {};
    for (const job of jobs) counts[job.status] = (counts[job.status] ?? 0) + 1;
    const attention = jobs.filter((j) => j.statusCode === JOB_FAILED || JOB_WAITING.has(j.statusCode));
    const stepName = new Map(steps.map((s) => [String(s.sdkmessageprocessingstepid), String(s.name)]));
    if (options.json) {
      out.write(
        `${JSON.stringify({
          endpoint: {
            id: endpoint.serviceendpointid,
            name: endpoint.name,
            transport: CONTRACT[Number(endpoint.contract)] ?? endpoint.contract,
            address: address(endpoint),
          },
          steps: steps.map((s) => ({
            id: s.sdkmessageprocessingstepid,
            name: s.name,
            enabled: Number(s.statecode ?? 0) === 0,
            stage: STAGE_NAME[Number(s.stage)],
            mode: MODE_NAME[Number(s.mode)],
          })),
          since: since.toISOString(),
          counts,
          attention: attention.map((j) => ({ ...j, step: stepName.get(j.stepId) })),
        })}\n`,
      );
    } else {
      out.write(formatStatus(endpoint, steps, hours, jobs, counts, attention, stepName));
    }
    return attention.some((j) => j.statusCode === JOB_FAILED) ? 1 : 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`error: ${error.message}\n`);
      return 2;
    }
    if (!isDataverseError(error)) throw error;
    err.write(`error: ${error.message}\n`);
    return 1;
  }
}

function address(endpoint: Row): string {
  return Number(endpoint.contract) === 8
    ? String(endpoint.url ?? '')
    : `${String(endpoint.namespaceaddress ?? '')}${String(endpoint.path ?? '')}`;
}

function formatStatus(
  endpoint: Row,
  steps: Row[],
  hours: number,
  jobs: SystemJob[],
  counts: Record<string, number>,
  attention: SystemJob[],
  stepName: Map<string, string>,
): string {
  const lines = [
    `Endpoint  "${String(endpoint.name)}"  ${CONTRACT[Number(endpoint.contract)] ?? `contract ${endpoint.contract}`}  ${address(endpoint)}`,
    `Steps (${steps.length})`,
    ...steps.map(
      (s) =>
        `  ${Number(s.statecode ?? 0) === 0 ? 'enabled ' : 'disabled'}  ${String(s.name)}  (${STAGE_NAME[Number(s.stage)] ?? s.stage}, ${MODE_NAME[Number(s.mode)] ?? s.mode})${s.filteringattributes ? `  filtering ${String(s.filteringattributes)}` : ''}`,
    ),
    `System jobs of the last ${hours} hour${hours === 1 ? '' : 's'} (${jobs.length})`,
    jobs.length === 0
      ? '  none'
      : `  ${Object.entries(counts)
          .map(([status, n]) => `${status} ${n}`)
          .join(', ')}`,
  ];
  if (attention.length > 0) {
    lines.push('Failed or waiting');
    for (const job of attention.slice(0, LISTED)) {
      lines.push(
        `  ${job.createdOn}  ${job.status.padEnd(9)}  ${stepName.get(job.stepId) ?? job.stepId}: ${oneLine(job.message ?? '(no message)')}`,
      );
    }
    if (attention.length > LISTED) lines.push(`  … and ${attention.length - LISTED} more (System Jobs in Dataverse)`);
  }
  return `${lines.join('\n')}\n`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** Adds `status` to the CLI. */
export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      "Show the registered service endpoint, its steps (enabled or not) and Dataverse's recent system jobs for them: " +
        'counts by status, and the failed or waiting ones with their message.',
    )
    .option('--config <file>', 'the registration file (its endpoint name is used)')
    .option('--endpoint <name>', 'the service endpoint name, instead of --config')
    .option('--hours <n>', 'how far back to read system jobs (1-720)', '24')
    .option('--json', 'print the result as JSON')
    .option('--settings <file>', 'a settings file in the local.settings.json format (default: ./local.settings.json)')
    .addHelpText(
      'after',
      `
Settings: DATAVERSE_URL and the credential as for "whoami". The system jobs are Dataverse's asyncoperation rows of the
endpoint's steps: what the System Jobs grid shows.

Exit codes: 0 no job failed; 1 a job failed (or Dataverse could not be read); 2 bad input (no such endpoint, a setting).

Examples:
  dataverse-bridge status --config registration.json
  dataverse-bridge status --endpoint "Dataverse Bridge" --hours 1 --json`,
    )
    .action(async (options: StatusOptions) => {
      process.exitCode = await runStatus(options, process.stdout, process.stderr);
    });
}
