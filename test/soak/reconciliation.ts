import pLimit from 'p-limit';
import type { DataverseDouble, Fault } from '../doubles/dataverse.js';
import type { CrashingHost } from './crashingHost.js';
import { type RowBook, rowDifferences, type SnapshotBody } from './rows.js';
import { backoff } from './subscriber.js';

/**
 * `DATAVERSE_TIMEOUT_SECONDS` of the soak's host: a `timeout` fault holds a request half a second longer, so the
 * client gives up on it (the app's 30 s, shortened as the soak shortens every wait).
 */
export const DATAVERSE_TIMEOUT_SECONDS = 1;
/** `Retry-After` of a 429, in seconds, as Dataverse sends it (Learn, "Service protection API limits"). */
export const RETRY_AFTER_SECONDS = 1;
/**
 * The three service protection errors ("Service protection API limits", https://learn.microsoft.com/power-apps/developer/data-platform/api-limits):
 * number of requests, combined execution time, concurrent requests. Each is a 429 with `Retry-After`.
 */
const THROTTLE_CODES = ['0x80072322', '0x80072321', '0x80072326'] as const;

/** Names of the Dataverse faults, as the report counts them. */
export const DATAVERSE_FAULTS = ['429', '503', 'timeout'] as const;

/**
 * The double's fault policy for a share of its requests (read from `rate()` on each, so the soak can turn it on and
 * off): a 429 with `Retry-After` (one of the three service protection codes), a 503, or the request held past the
 * client's timeout. Counts what it injects in `counts`.
 */
export function dataverseFaults(
  random: () => number,
  rate: () => number,
  counts: Record<string, number>,
): NonNullable<DataverseDouble['faultPolicy']> {
  return () => {
    if (random() >= rate()) return undefined;
    const name = DATAVERSE_FAULTS[Math.floor(random() * DATAVERSE_FAULTS.length)] as (typeof DATAVERSE_FAULTS)[number];
    counts[name] = (counts[name] ?? 0) + 1;
    const fault: Fault =
      name === '429'
        ? {
            kind: 'throttle',
            retryAfterSeconds: RETRY_AFTER_SECONDS,
            code: THROTTLE_CODES[Math.floor(random() * THROTTLE_CODES.length)] as (typeof THROTTLE_CODES)[number],
          }
        : name === '503'
          ? { kind: 'status', status: 503 }
          : { kind: 'delay', ms: DATAVERSE_TIMEOUT_SECONDS * 1000 + 500 };
    return fault;
  };
}

/** A run record as `POST /admin/functions/reconcileChanges` answers it. */
export interface ReconcileRunBody {
  status: 'succeeded' | 'failed';
  rowsChecked: number;
  gapsFound: number;
  gapsRepaired: number;
  tables: { table: string; pass: 'delta' | 'full'; reason?: string; requests: number; error?: { code: string } }[];
}

/**
 * Runs `reconcileChanges` through the admin endpoint until a run succeeds, as its timer would run it again after a
 * failed one (Dataverse past the client's retry budget, Event Grid or storage failing: the run is recorded as failed
 * and the next one starts again from the last saved delta link). Returns the run that succeeded and how many failed.
 */
export async function reconcileUntilSucceeded(
  host: CrashingHost,
  maxRuns = 10,
): Promise<{ run?: ReconcileRunBody; failedRuns: number; lastError?: string }> {
  let failedRuns = 0;
  let lastError: string | undefined;
  for (let attempt = 1; attempt <= maxRuns; attempt++) {
    try {
      const response = await host.request('/admin/functions/reconcileChanges', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: '' }),
        signal: AbortSignal.timeout(600_000),
      });
      const text = await response.text();
      if (response.status === 202) {
        const run = JSON.parse(text) as ReconcileRunBody;
        if (run.status === 'succeeded') return { run, failedRuns };
      }
      lastError = `${response.status}: ${text.slice(0, 300)}`;
    } catch (error) {
      lastError = (error as Error).message;
    }
    failedRuns++;
    await backoff(attempt);
  }
  return { failedRuns, ...(lastError ? { lastError } : {}) };
}

/** What the soak found comparing every row's snapshot with the double's row. */
export interface Convergence {
  rowsChecked: number;
  converged: number;
  notConverged: { row: string; differences: string[] }[];
}

/** Reads every row the workload changed back through `GET /api/tables/{table}/rows/{id}` and compares it. */
export async function checkConvergence(
  host: CrashingHost,
  book: RowBook,
  dataverse: DataverseDouble,
  concurrency: number,
): Promise<Convergence> {
  const limit = pLimit(concurrency);
  const notConverged: Convergence['notConverged'] = [];
  await Promise.all(
    book.rowKeys.map((key) =>
      limit(async () => {
        const [table, id] = key.split('/') as [string, string];
        const response = await host.request(`/api/tables/${table}/rows/${id}`);
        const text = await response.text();
        if (response.status !== 200 && response.status !== 404) {
          throw new Error(`GET /api/tables/${table}/rows/${id} answered ${response.status}: ${text.slice(0, 200)}`);
        }
        const snapshot = response.status === 200 ? (JSON.parse(text) as SnapshotBody) : undefined;
        const differences = rowDifferences(dataverse.row(table, id), snapshot);
        if (differences.length > 0) notConverged.push({ row: key, differences });
      }),
    ),
  );
  return {
    rowsChecked: book.rowKeys.length,
    converged: book.rowKeys.length - notConverged.length,
    notConverged: notConverged.sort((a, b) => a.row.localeCompare(b.row)),
  };
}
