import { MissingBuildError, requireBuild, staleSources } from './build.js';
import { coldStartBenchmark } from './coldStart.bench.js';
import { latencyBenchmark } from './latency.bench.js';
import type { Figure, SuiteOptions } from './measure.js';
import { benchOptions, type SuiteName, USAGE, UsageError } from './options.js';
import { packageSizeBenchmark } from './packageSize.bench.js';
import { parseBenchmark } from './parse.bench.js';
import { pipelineBenchmark } from './pipeline.bench.js';
import { projectionBenchmark } from './projection.bench.js';
import { benchReport, formatTable } from './report.js';

interface Suite {
  label: string;
  run: (options: SuiteOptions) => Figure[] | Promise<Figure[]>;
  /** Measures the compiled app in dist/. */
  needsBuild: boolean;
  /** Gives the same figures every run (sizes), so it is measured once whatever `--rounds` says. */
  measuredOnce?: boolean;
}

const SUITES: Record<SuiteName, Suite> = {
  parse: { label: 'parse + normalize vs JSON.parse', run: parseBenchmark, needsBuild: false },
  pipeline: {
    label: 'pipeline (Azurite + local Event Grid receiver)',
    run: pipelineBenchmark,
    needsBuild: false,
  },
  projection: { label: 'projectChanges (Azurite)', run: projectionBenchmark, needsBuild: false },
  latency: {
    label: 'end-to-end latency (local host webhook → signed delivery)',
    run: latencyBenchmark,
    needsBuild: true,
  },
  coldStart: { label: 'cold start (fresh Node process per load)', run: coldStartBenchmark, needsBuild: true },
  size: { label: 'package size (what azd deploys)', run: packageSizeBenchmark, needsBuild: true, measuredOnce: true },
};

const progress = (line: string) => console.error(line);

let options: ReturnType<typeof benchOptions>;
try {
  options = benchOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

if (options.suites.some((name) => SUITES[name].needsBuild)) {
  try {
    requireBuild();
  } catch (error) {
    if (!(error instanceof MissingBuildError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const stale = staleSources();
  if (stale.length > 0) {
    const some = `${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''}`;
    progress(`warning: dist/ is older than ${stale.length} source file(s) (${some});`);
    progress('         run "npm run build" for figures of the current code.');
  }
}

const figures: Figure[] = [];
for (const name of options.suites) {
  const suite = SUITES[name];
  progress(`running ${suite.label}, ${suite.measuredOnce ? 'once' : `${options.rounds} round(s)`}…`);
  figures.push(...(await suite.run({ rounds: options.rounds, log: progress })));
}
if (options.json) {
  console.log(JSON.stringify(benchReport(figures, options.rounds, options.suites), null, 2));
} else {
  console.log(
    `Medians of ${options.rounds} round(s), ours and the baseline alternating; ratio = our cost / baseline's.`,
  );
  for (const line of formatTable(figures)) console.log(line);
}
