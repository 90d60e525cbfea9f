import { parseArgs } from 'node:util';

/** The suites, in the order they run; `--only` takes these names. */
export const SUITE_NAMES = ['parse', 'pipeline', 'projection', 'latency', 'coldStart', 'size'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

/** Enough rounds for a median that one noisy round cannot move, and a whole run of a minute or two on 2 cores. */
export const DEFAULT_ROUNDS = 9;

export const USAGE = `Usage: npm run bench [-- [--json] [--rounds N] [--only SUITES]]

Measures every figure the project tracks, each next to a baseline measured in the same run, in alternating rounds
(ours, baseline, ours, baseline, ...), and prints the medians as a table (or JSON with --json). The ratio is our
cost over the baseline's (lower is better), the median of the per-round ratios, with their range in brackets; a
ratio over its goal is marked MISSED. Progress goes to stderr.

Suites (--only takes their names):
  parse       readContext (parse + normalize) vs JSON.parse of the same bytes, reference corpus
  pipeline    messages/s through ingest (Azurite + local Event Grid receiver) vs bare Table insert+update;
              Event Grid requests per 1,000 events vs the minimum; storage round trips per message vs 2
  projection  projectChanges events/s on Azurite (one event per call, 16 at once) vs the bare append + read +
              write per event; storage round trips per event vs 3
  latency     a context posted to the local host's webhook (npm start's compiled app, Azurite, local fan-out)
              until its signed delivery reaches a local webhook-trigger subscriber: p50/p95/p99 at 1 and 16
              contexts in flight vs the same number of bare Table writes per context, same concurrency
  coldStart   loading the bundled entry points (dist/app, as the Functions host does, fresh process each) vs a
              bare @azure/functions app with one function: load time, process time, heap, RSS
  size        what azd deploys (the bundle folder dist/app), on disk and deflated, vs the bare app and the budget

latency, coldStart and size measure dist/: run "npm run build" first (the benchmark builds nothing).

Options:
  --json           print the report as JSON on stdout
  --rounds N       rounds per suite, N >= 1 (default ${DEFAULT_ROUNDS}); size is measured once
  --only SUITES    comma-separated suite names (default: all)
  -h, --help       show this help`;

export interface BenchOptions {
  help: boolean;
  json: boolean;
  rounds: number;
  suites: SuiteName[];
}

/** A command-line mistake, shown with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Reads the command line. Throws {@link UsageError} for a bad `--rounds` or an unknown suite.
 *
 * @example
 * benchOptions(['--json', '--rounds', '3', '--only', 'coldStart,size']);
 * // { help: false, json: true, rounds: 3, suites: ['coldStart', 'size'] }
 */
export function benchOptions(argv: string[]): BenchOptions {
  let values: { help?: boolean; json?: boolean; rounds?: string; only?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        rounds: { type: 'string' },
        only: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const rounds = Number(values.rounds ?? DEFAULT_ROUNDS);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new UsageError(`--rounds must be a whole number from 1 up, got "${values.rounds}"`);
  }
  return { help: values.help ?? false, json: values.json ?? false, rounds, suites: suiteNames(values.only) };
}

function suiteNames(only: string | undefined): SuiteName[] {
  if (only === undefined) return [...SUITE_NAMES];
  const names = only
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(SUITE_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(`--only takes ${SUITE_NAMES.join(', ')}; got "${only}"`);
  }
  // In the suites' own order, each once.
  return SUITE_NAMES.filter((name) => names.includes(name));
}
