#!/usr/bin/env node
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { APP_DIR, BundleError, bundleApp, largestInputs, METAFILE, SOURCEMAP_DIR } from './bundle.js';

/** The repository: this file runs as dist/tools/bundle/main.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCEMAP_VARIABLE = 'BRIDGE_BUNDLE_SOURCEMAP';

const program = new Command()
  .name('npm run build:bundle --')
  .description(`Bundles the app with esbuild into ${APP_DIR}/, the package azd deploys and npm start loads.`)
  .option('--sourcemap', `also write source maps, to ${SOURCEMAP_DIR}/ (never into the package)`)
  .option('--quiet', 'print nothing when it works')
  .addHelpText(
    'after',
    `
${SOURCEMAP_VARIABLE}=1 in the environment does what --sourcemap does, for builds run by other scripts
(npm start, npm test). Stack traces use the maps under "node --enable-source-maps" (or NODE_OPTIONS).
Which input went into which file: ${METAFILE} (esbuild's metafile).`,
  )
  .parse();

const options = program.opts<{ sourcemap?: boolean; quiet?: boolean }>();
const sourcemap = options.sourcemap === true || ['1', 'true'].includes(process.env[SOURCEMAP_VARIABLE] ?? '');

try {
  const result = await bundleApp({ root: ROOT, sourcemap });
  if (!options.quiet) {
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
    console.log(
      `${relative(ROOT, result.appDir)}/: ${result.files.length} files, ${kb(result.bytes)} (${kb(result.deflatedBytes)} deflated)`,
    );
    console.log(
      `  largest inputs: ${largestInputs(result.metafile, 5)
        .map((i) => `${i.name} ${kb(i.bytes)}`)
        .join(', ')}`,
    );
    if (result.sourcemapDir) console.log(`  source maps: ${relative(ROOT, result.sourcemapDir)}/`);
  }
} catch (error) {
  if (!(error instanceof BundleError)) throw error;
  console.error(error.message);
  process.exit(1);
}
