import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/localHost.js';
import { requireBuild } from './build.js';
import { BARE_APP } from './coldStart.js';
import { parseIgnoreFile } from './ignoreFile.js';
import { type Figure, pairedFigure, type SuiteOptions } from './measure.js';
import { type DependencySize, packageSize } from './packageSize.js';

const MB = 1e6;
const TOP_DEPENDENCIES = 5;

/**
 * The packaged size: what `azd deploy` zips (the app folder as `.funcignore` filters it, after `npm prune
 * --omit=dev`), next to the same computation for a bare `@azure/functions` app with the same ignore rules. Sizes do
 * not vary between runs, so this is measured once.
 */
export async function packageSizeBenchmark({ log }: SuiteOptions): Promise<Figure[]> {
  requireBuild();
  const rules = parseIgnoreFile(readFileSync(join(REPO_ROOT, '.funcignore'), 'utf8'));
  const ours = await packageSize(REPO_ROOT, rules);
  const bare = await packageSize(BARE_APP, rules);
  log(`  package size: ${ours.files} files, ${ours.dependencies.length} production dependencies`);
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
          largestDependencies: ours.dependencies.slice(0, TOP_DEPENDENCIES).map(describe),
        },
      },
      [{ value: ours.deflatedBytes / MB, baseline: bare.deflatedBytes / MB }],
    ),
  ];
}

function describe({ name, version, path, bytes, deflatedBytes }: DependencySize) {
  return { name, version, path, bytes, deflatedBytes };
}
