import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { largestInputs, METAFILE } from '../../tools/bundle/bundle.js';
import { REPO_ROOT } from '../helpers/localHost.js';
import { APP_PACKAGE, requireBuild } from './build.js';
import { BARE_APP } from './coldStart.js';
import { deployIgnoreRules } from './ignoreFile.js';
import { type Figure, pairedFigure, type SuiteOptions } from './measure.js';
import { type DependencySize, packageSize } from './packageSize.js';

const MB = 1e6;
const TOP = 5;
/** The size the deployed package must stay under, deflated (issue 20): uploads and scale-outs fetch it. */
const BUDGET_DEFLATED_MB = 1;

/**
 * The packaged size: what `azd deploy` zips — the bundle folder `dist/app` (azure.yaml `dist`), with no
 * node_modules — next to the same computation for a bare `@azure/functions` app with its dependency installed, each
 * filtered as azd filters a package folder (its own `.funcignore`). Sizes do not vary between runs, so this is
 * measured once.
 */
export async function packageSizeBenchmark({ log }: SuiteOptions): Promise<Figure[]> {
  requireBuild();
  const ours = await packageSize(APP_PACKAGE, deployIgnoreRules(APP_PACKAGE));
  const bare = await packageSize(BARE_APP, deployIgnoreRules(BARE_APP));
  const metafile = JSON.parse(readFileSync(join(REPO_ROOT, METAFILE), 'utf8')) as Metafile;
  log(`  package size: ${ours.files} files, ${ours.dependencies.length} installed dependencies`);
  const suite = 'package size';
  const spec = { suite, baselineLabel: 'bare @azure/functions app', direction: 'cost' as const };
  return [
    pairedFigure(
      {
        ...spec,
        metric: 'deployed files',
        unit: 'MB',
        details: {
          bytes: ours.bytes,
          files: ours.files,
          appBytes: ours.app.bytes,
          dependencies: ours.dependencies.length,
          baselineBytes: bare.bytes,
          baselineFiles: bare.files,
          baselineDependencies: bare.dependencies.length,
        },
      },
      [{ value: ours.bytes / MB, baseline: bare.bytes / MB }],
    ),
    pairedFigure(
      {
        ...spec,
        metric: 'deployed, deflated (zip)',
        unit: 'MB',
        details: {
          deflatedBytes: ours.deflatedBytes,
          baselineDeflatedBytes: bare.deflatedBytes,
          // What the bundle is made of: bytes each npm package (or our own folder) left in the minified output.
          largestBundledInputs: largestInputs(metafile, TOP),
          baselineLargestDependencies: bare.dependencies.slice(0, TOP).map(describe),
        },
      },
      [{ value: ours.deflatedBytes / MB, baseline: bare.deflatedBytes / MB }],
    ),
    pairedFigure(
      {
        suite,
        metric: 'deployed, deflated, vs the budget',
        unit: 'MB',
        baselineLabel: `the ${BUDGET_DEFLATED_MB} MB budget`,
        direction: 'cost',
        goal: 1,
      },
      [{ value: ours.deflatedBytes / MB, baseline: BUDGET_DEFLATED_MB }],
    ),
  ];
}

function describe({ name, version, path, bytes, deflatedBytes }: DependencySize) {
  return { name, version, path, bytes, deflatedBytes };
}
