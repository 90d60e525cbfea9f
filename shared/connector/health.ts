import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ReconcileRun } from '../reconcile/types.js';
import type { ApiResponse } from './responses.js';

/** One dependency's state: `local` is the local host's in-process Event Grid stand-in. */
export interface Check {
  status: 'ok' | 'failed' | 'local';
  durationMs: number;
  message?: string;
  /** Dataverse only: system jobs of the bridge's steps that failed in the last hour (posts Dataverse could not make). */
  failedSystemJobsLastHour?: number;
}

/** What `GET /api/health` answers: 200 when every check passes, else 503 with the same body. */
export interface Health {
  status: 'healthy' | 'unhealthy';
  version: string;
  /** `dataverse` only when `DATAVERSE_URL` is set. */
  checks: { storage: Check; eventGrid: Check; dataverse?: Check };
  /** The last reconciliation run, when reconciliation is on and has run; it does not decide `status`. */
  reconciliation?: ReconcileSummary;
}

/** A reconciliation run as the anonymous health answer shows it: counts and error codes, no Dataverse text. */
export interface ReconcileSummary {
  status: ReconcileRun['status'];
  startedAt: string;
  durationMs: number;
  rowsChecked: number;
  gapsFound: number;
  gapsRepaired: number;
  tables: Array<{
    table: string;
    pass: 'delta' | 'full';
    reason?: string;
    rowsChecked: number;
    gapsFound: number;
    gapsRepaired: number;
    errorCode?: string;
  }>;
}

/** Where events go: a topic, the local host's fan-out, or nowhere yet. */
export type EventGridTarget = { kind: 'topic'; endpoint: string } | { kind: 'local' } | { kind: 'none' };

export interface HealthDeps {
  /** One cheap storage round trip (a point read); throws when storage does not answer. */
  pingStorage(): Promise<void>;
  eventGrid: EventGridTarget;
  version: string;
  /**
   * When Dataverse is configured: one `WhoAmI`; throws a Dataverse error when it does not answer or refuses. May answer
   * what it found besides (the failed system jobs of the last hour), which is reported without failing the check.
   */
  pingDataverse?: () => Promise<Pick<Check, 'message' | 'failedSystemJobsLastHour'> | undefined>;
  /** When reconciliation is on: its last run record (a failure to read it leaves it out of the answer). */
  lastReconciliation?: () => Promise<ReconcileRun | undefined>;
  /** Per check. */
  timeoutMs?: number;
}

/**
 * `GET /api/health` (anonymous): the app's version, and whether storage, the Event Grid topic and Dataverse (when configured) answer. The topic
 * "answers" when its endpoint returns any HTTP response to an unauthenticated request (it refuses it, but is there):
 * no event is published and no key is sent. Messages name the failing dependency, never a secret.
 *
 * @example
 * await health({ pingStorage: () => jobs.get('0'.repeat(32)).then(() => {}), eventGrid: { kind: 'local' }, version: '0.1.0' });
 */
export async function health(deps: HealthDeps): Promise<ApiResponse> {
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const pingDataverse = deps.pingDataverse;
  const [storage, eventGrid, dataverse] = await Promise.all([
    timed(() => withTimeout(deps.pingStorage(), timeoutMs, 'storage')),
    deps.eventGrid.kind === 'local'
      ? Promise.resolve<Check>({ status: 'local', durationMs: 0, message: 'events are delivered in-process' })
      : deps.eventGrid.kind === 'none'
        ? Promise.resolve<Check>({
            status: 'failed',
            durationMs: 0,
            message: 'EVENTGRID_TOPIC_ENDPOINT is not set, so events cannot be published.',
          })
        : timed(() => probe(new URL((deps.eventGrid as { endpoint: string }).endpoint), timeoutMs)),
    pingDataverse
      ? timed(() => withTimeout(pingDataverse(), timeoutMs, 'Dataverse').catch(dataverseFailure))
      : undefined,
  ]);
  const checks = { storage, eventGrid, ...(dataverse ? { dataverse } : {}) };
  const run = await deps.lastReconciliation?.().catch(() => undefined);
  const body: Health = {
    status: Object.values(checks).every((check) => check.status !== 'failed') ? 'healthy' : 'unhealthy',
    version: deps.version,
    checks,
    ...(run ? { reconciliation: summarize(run) } : {}),
  };
  return { status: body.status === 'healthy' ? 200 : 503, jsonBody: body, headers: { 'Cache-Control': 'no-store' } };
}

/**
 * The health answer is anonymous: it says how Dataverse failed (the error code and status), not Dataverse's own text,
 * which can name users and privileges. `dataverse-bridge whoami` gives the details.
 */
function dataverseFailure(error: unknown): never {
  const { code, status } = error as { code?: string; status?: number };
  if (typeof code !== 'string') throw error;
  throw new Error(
    `Dataverse: ${code}${status ? ` (${status})` : ''}; run "dataverse-bridge whoami" with the app's settings for details`,
  );
}

async function timed(step: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  try {
    // What a check found besides (Dataverse's failed system jobs); the other checks answer nothing.
    const found = (await step()) as Partial<Check> | undefined;
    return { status: 'ok', durationMs: Math.round(performance.now() - started), ...(found ?? {}) };
  } catch (error) {
    return {
      status: 'failed',
      durationMs: Math.round(performance.now() - started),
      message: (error as Error).message,
    };
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Any HTTP answer from the topic's host counts; the path and query are never echoed. */
function probe(endpoint: URL, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const send = endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(endpoint, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve();
    });
    req.on('timeout', () =>
      req.destroy(new Error(`the Event Grid topic ${endpoint.host} did not answer within ${timeoutMs} ms`)),
    );
    req.on('error', (error) =>
      reject(
        error.message.includes('did not answer')
          ? error
          : new Error(
              `the Event Grid topic ${endpoint.host} cannot be reached (${(error as NodeJS.ErrnoException).code ?? error.message})`,
            ),
      ),
    );
    req.end();
  });
}

let version: string | undefined;

/**
 * The app's version, from the package.json shipped with it (found from here upwards: the bundle's `chunks/`, `dist/`
 * or the sources).
 */
export function appVersion(): string {
  if (version !== undefined) return version;
  for (const up of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (manifest.name === 'dataverse-bridge' && manifest.version) {
        version = manifest.version;
        return version;
      }
    } catch {
      // not at this level
    }
  }
  version = 'unknown';
  return version;
}

function summarize(run: ReconcileRun): ReconcileSummary {
  return {
    status: run.status,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    rowsChecked: run.rowsChecked,
    gapsFound: run.gapsFound,
    gapsRepaired: run.gapsRepaired,
    tables: run.tables.map((t) => ({
      table: t.table,
      pass: t.pass,
      ...(t.reason ? { reason: t.reason } : {}),
      rowsChecked: t.rowsChecked,
      gapsFound: t.gapsFound,
      gapsRepaired: t.gapsRepaired,
      ...(t.error ? { errorCode: t.error.code } : {}),
    })),
  };
}
