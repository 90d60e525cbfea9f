import { APP_PACKAGE, requireBuild } from './build.js';
import { BARE_APP, type LoadSample, loadInFreshProcess } from './coldStart.js';
import { type Figure, pairedFigure, type SuiteOptions } from './measure.js';

const BASELINE = 'bare @azure/functions app';
const MB = 1e6;

/**
 * Cold start: loading the app's entry points the way the Functions host does, each load in a fresh Node process,
 * alternating ours (the bundle that ships, `dist/app`) and a bare `@azure/functions` app with one HTTP function. The primary figure is the load itself
 * (`loadApp`): in Azure the worker process is already running when it loads the app, so Node's own boot is not the
 * app's cost, and counting it would only dilute the ratio. The whole process, spawn to exit, is reported next to it.
 */
export async function coldStartBenchmark({ rounds, log }: SuiteOptions): Promise<Figure[]> {
  requireBuild();
  // Not timed: warms the file cache, and lists what each app loads at start-up (a resolve hook slows that run).
  const oursWarm = await loadInFreshProcess(APP_PACKAGE, { packages: true });
  const bareWarm = await loadInFreshProcess(BARE_APP, { packages: true });
  const samples: { ours: LoadSample; bare: LoadSample }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const ours = await loadInFreshProcess(APP_PACKAGE);
    const bare = await loadInFreshProcess(BARE_APP);
    samples.push({ ours, bare });
    log(`  cold start round ${round}/${rounds}`);
  }
  const pair = (pick: (sample: LoadSample) => number) =>
    samples.map(({ ours, bare }) => ({ value: pick(ours), baseline: pick(bare) }));
  const suite = 'cold start';
  const spec = { suite, baselineLabel: BASELINE, direction: 'cost' as const };
  return [
    pairedFigure(
      {
        ...spec,
        metric: 'load entry points (loadApp)',
        unit: 'ms',
        // The bundle starts like a bare app: our own start-up work (settings validation, 16 registrations, the
        // library inlined in a chunk) adds at most a tenth to the library's.
        goal: 1.1,
        details: {
          functions: oursWarm.functions.length,
          baselineFunctions: bareWarm.functions.length,
          packagesAtStartUp: oursWarm.packages,
          baselinePackagesAtStartUp: bareWarm.packages,
        },
      },
      pair((s) => s.loadMs),
    ),
    pairedFigure(
      { ...spec, metric: 'process, spawn to exit', unit: 'ms' },
      pair((s) => s.processMs),
    ),
    pairedFigure(
      { ...spec, metric: 'heap used after load', unit: 'MB' },
      pair((s) => s.heapUsed / MB),
    ),
    pairedFigure(
      { ...spec, metric: 'RSS after load', unit: 'MB' },
      pair((s) => s.rss / MB),
    ),
  ];
}
