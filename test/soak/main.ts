import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../helpers/localHost.js';
import { DEFAULTS, formatReport, runSoak, type SoakOptions } from './soak.js';

const HELP = `Usage: npm run soak [-- --count N] [options]

Runs the local host (npm start's build) on an Azurite of its own behind a proxy that fails a share of storage
requests, against a local Event Grid receiver that fails a share of requests and pushes what it accepts to
deliverSubscriptions (which calls a local subscriber), and kills the host (SIGKILL) at random moments, restarting it
on the same storage. With reconciliation or Dataverse faults on, it also runs a Dataverse test double whose rows are
the workload's rows (every context is a change Dataverse made, with change tracking), points the host at it
(DATAVERSE_URL), fails a share of its requests, drops a share of the contexts before ingest, and at the end runs
reconcileChanges and compares every row's snapshot with the double's row. Sends every context more than once,
shuffled, through Service Bus batches (the admin invoke) and the Dataverse webhook at the same time, re-driving failed
or unanswered invocations as Service Bus and Dataverse would. Then reports, per context, what Event Grid accepted and
what the subscriber received. Exits 1 if anything was lost or duplicated (or a row did not converge with
Dataverse's, or a bad input was not rejected with its documented reason, or the host answered 500), 2 on a bad
option.

Options:
  --count N          valid contexts to send (default ${DEFAULTS.count.toLocaleString('en-US')})
  --fault-rate R     share of Event Grid requests answered 500, 429, dropped or slow (default ${DEFAULTS.faultRate})
  --storage-fault-rate R
                     share of storage requests (Tables, Blobs) answered 500, 503, timed out (held, then 500
                     OperationTimedOut) or reset (default ${DEFAULTS.storageFaultRate}; 0 turns storage faults off)
  --crashes N        times the host is killed with SIGKILL at seeded points of the sending, then restarted
                     (default ${DEFAULTS.crashes}; 0 for none)
  --crash-every S    also kill it every S seconds on average (0.5 to 1.5 × S, seeded) while sending (default off);
                     keep S well above the soak's 10 s lease plus a restart, or messages run out of deliveries
  --drop-rate R      share of valid contexts lost before ingest (never sent, as a deleted Service Bus namespace or a
                     rotated key loses them), repaired by reconcileChanges at the end; every row must converge
                     (default ${DEFAULTS.dropRate}; 0 with --dataverse-fault-rate 0 turns the Dataverse double off)
  --dataverse-fault-rate R
                     share of the Dataverse double's requests answered 429 (Retry-After, a service protection code),
                     503, or held past the client's timeout (default ${DEFAULTS.dataverseFaultRate})
  --bad N            bad inputs mixed in on purpose (default ${DEFAULTS.bad})
  --batch N          messages per Service Bus invocation (default ${DEFAULTS.batchSize})
  --concurrency N    invocations / webhook posts in flight per path (default ${DEFAULTS.concurrency})
  --webhook-share R  share of contexts sent through the webhook (default ${DEFAULTS.webhookShare})
  --seed N           seeds the workload, the shuffle, the faults and the crashes (default ${DEFAULTS.seed})
  --host-log FILE    write the local host's output (every process, crashes marked) to FILE
  --json             print the report as JSON on stdout (progress stays on stderr)
  -h, --help         show this help`;

let args: ReturnType<typeof parse>;
try {
  args = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (!existsSync(join(REPO_ROOT, 'dist', 'tools', 'localhost', 'main.js'))) {
  console.error('No build found: run "npm run build" first (npm run soak does).');
  process.exit(2);
}

const report = await runSoak({ ...args.options, progress: (line) => console.error(line) });
if (args.json) console.log(JSON.stringify(report, null, 2));
else for (const line of formatReport(report)) console.log(line);
process.exit(report.ok ? 0 : 1);

function parse(): { help: boolean; json: boolean; options: Omit<SoakOptions, 'progress'> } {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      'fault-rate': { type: 'string' },
      'storage-fault-rate': { type: 'string' },
      crashes: { type: 'string' },
      'crash-every': { type: 'string' },
      'drop-rate': { type: 'string' },
      'dataverse-fault-rate': { type: 'string' },
      bad: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      'webhook-share': { type: 'string' },
      seed: { type: 'string' },
      'host-log': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const { progress: _progress, ...defaults } = DEFAULTS;
  return {
    help: values.help,
    json: values.json,
    options: {
      ...defaults,
      count: integer(values.count, '--count', defaults.count, 1),
      faultRate: share(values['fault-rate'], '--fault-rate', defaults.faultRate),
      storageFaultRate: share(values['storage-fault-rate'], '--storage-fault-rate', defaults.storageFaultRate),
      crashes: integer(values.crashes, '--crashes', defaults.crashes, 0),
      crashEverySeconds: positive(values['crash-every'], '--crash-every', defaults.crashEverySeconds),
      dropRate: share(values['drop-rate'], '--drop-rate', defaults.dropRate),
      dataverseFaultRate: share(values['dataverse-fault-rate'], '--dataverse-fault-rate', defaults.dataverseFaultRate),
      bad: integer(values.bad, '--bad', defaults.bad, 0),
      batchSize: integer(values.batch, '--batch', defaults.batchSize, 1),
      concurrency: integer(values.concurrency, '--concurrency', defaults.concurrency, 1),
      webhookShare: share(values['webhook-share'], '--webhook-share', defaults.webhookShare),
      seed: integer(values.seed, '--seed', defaults.seed, 0),
      ...(values['host-log'] ? { hostLog: values['host-log'] } : {}),
    },
  };
}

function integer(text: string | undefined, name: string, fallback: number, minimum: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum)
    throw new Error(`${name} must be an integer ≥ ${minimum}, got "${text}".`);
  return value;
}

function positive(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(text.trim() !== '' && Number.isFinite(value) && value > 0))
    throw new Error(`${name} must be a number of seconds > 0, got "${text}".`);
  return value;
}

function share(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(text.trim() !== '' && value >= 0 && value <= 1))
    throw new Error(`${name} must be between 0 and 1, got "${text}".`);
  return value;
}
