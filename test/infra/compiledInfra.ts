/**
 * The compiled ARM templates for the template tests: the last `npm run infra:build` when it compiled exactly the
 * current Bicep sources, else a fresh build with the same finder and compiler (tools/infra/bicep.ts). With no Bicep
 * CLI and no dotnet to restore one, says so instead; under CI (CI=true) that is an error, since CI always compiles.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildInfra, currentBuild, findBicep, type InfraBuild } from '../../tools/infra/bicep.js';
import { REPO_ROOT } from '../helpers/localHost.js';

export type CompiledInfra =
  | { compiled: true; build: InfraBuild; reused: boolean; templates: Record<string, unknown> }
  | { compiled: false; reason: string };

export async function compiledInfra(): Promise<CompiledInfra> {
  let build = await currentBuild(REPO_ROOT);
  const reused = build !== undefined;
  if (build === undefined) {
    const lookup = await findBicep({ root: REPO_ROOT, log: (line) => console.log(line) });
    if (!lookup.found) {
      if (process.env.CI === 'true') {
        throw new Error(`CI compiles the infrastructure, but there is ${lookup.reason}. Run npm run infra:build.`);
      }
      return { compiled: false, reason: lookup.reason };
    }
    build = await buildInfra(REPO_ROOT, lookup.cli);
  }
  const templates: Record<string, unknown> = {};
  for (const [source, output] of Object.entries(build.outputs)) {
    templates[source] = JSON.parse(await readFile(join(REPO_ROOT, output), 'utf8'));
  }
  return { compiled: true, build, reused, templates };
}
