import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';

/** The deployment package, relative to the repository: what azd zips (azure.yaml `dist`) and the local host loads. */
export const APP_DIR = join('dist', 'app');
/**
 * Source maps, written only on request and never inside the package. Same depth as {@link APP_DIR}, so the relative
 * source paths esbuild writes into each map stay right after the move.
 */
export const SOURCEMAP_DIR = join('dist', 'app-sourcemaps');
/** esbuild's metafile of the last bundle (which input went into which output); not shipped. */
export const METAFILE = join('dist', 'app-meta.json');
/** The licenses of the bundled packages, in the package: their code ships inside ours, without their own files. */
export const NOTICES_FILE = 'THIRD-PARTY-NOTICES.txt';
/**
 * `main` of the package's package.json: the one file the Functions host imports. It registers every function of
 * `functions/*.ts`, in file-name order: one module to load at a cold start instead of one per function and the chunks
 * they share (half the load time, measured by `npm run bench -- --only coldStart`).
 */
export const ENTRY_FILE = 'index.js';
/** The module esbuild bundles into {@link ENTRY_FILE}: made at build time from the list of `functions/*.ts`. */
const ENTRY_MODULE = 'dataverse-bridge:functions';

/**
 * The only package the bundle leaves to `require` at run time: the Functions Node.js worker provides it (it is not
 * on npm), and `@azure/functions` asks for it. Everything else, `@azure/functions` included, is in the bundle.
 */
export const PROVIDED_BY_THE_HOST = ['@azure/functions-core'];

/**
 * The bundle is ES modules, but the CommonJS packages in it (`@azure/functions` among them) call `require` for Node's
 * built-ins and for `@azure/functions-core`. Each output file gets a real `require`: the worker serves
 * `@azure/functions-core` through `Module.prototype.require`, which this one goes through.
 */
const REQUIRE_BANNER =
  "import { createRequire as __bridgeCreateRequire } from 'node:module'; const require = __bridgeCreateRequire(import.meta.url);";

/** The bundle could not be built, or would not run without a node_modules folder. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export interface BundleOptions {
  /** The repository: `functions/`, `host.json` and `package.json` are read from it, `dist/` written in it. */
  root: string;
  /** Also write source maps, to {@link SOURCEMAP_DIR} (never into the package). */
  sourcemap?: boolean;
}

export interface BundleResult {
  /** The package folder (absolute). */
  appDir: string;
  /** Every file of the package, relative to it, sorted. */
  files: string[];
  /** The package's size on disk, and deflated file by file as a zip stores it. */
  bytes: number;
  deflatedBytes: number;
  /** The source map folder (absolute), when maps were asked for. */
  sourcemapDir?: string;
  metafile: Metafile;
}

/**
 * Builds the deployment package: every `functions/*.ts` bundled with its dependencies by esbuild into one entry file
 * (ES modules, code splitting, so each dynamic `import()` of a handler module stays a chunk loaded on the first
 * invocation, not at start-up), with `host.json` and a package.json whose `main` names the entry file. No
 * node_modules: the package is complete as it is. Replaces what an earlier build left.
 *
 * @example
 * const { appDir, deflatedBytes } = await bundleApp({ root: process.cwd() });
 * // appDir = <root>/dist/app: host.json, package.json, index.js, chunks/*.js, THIRD-PARTY-NOTICES.txt
 */
export async function bundleApp({ root, sourcemap = false }: BundleOptions): Promise<BundleResult> {
  const appDir = join(root, APP_DIR);
  const mapDir = join(root, SOURCEMAP_DIR);
  const functionFiles = (await readdir(join(root, 'functions')))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .sort();
  if (functionFiles.length === 0) throw new BundleError(`No function files in ${join(root, 'functions')}.`);

  const result = await build({
    absWorkingDir: root,
    entryPoints: { [basename(ENTRY_FILE, '.js')]: ENTRY_MODULE },
    plugins: [entryModule(root, functionFiles)],
    outdir: appDir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: PROVIDED_BY_THE_HOST,
    banner: { js: REQUIRE_BANNER },
    // Smaller to upload and faster to parse at every cold start; names are kept so that stack traces and error
    // names stay readable in Application Insights. Source maps, on request, map back to the TypeScript.
    minify: true,
    keepNames: true,
    legalComments: 'eof',
    sourcemap: sourcemap ? 'linked' : false,
    metafile: true,
    write: false,
    logLevel: 'silent',
  }).catch((error: Error) => {
    throw new BundleError(`esbuild could not bundle the app:\n${error.message}`);
  });
  const metafile = result.metafile as Metafile;
  checkSelfContained(metafile);

  await rm(appDir, { recursive: true, force: true });
  await rm(mapDir, { recursive: true, force: true });
  for (const file of result.outputFiles) {
    const path = relative(appDir, file.path);
    if (path.endsWith('.map')) {
      await writeOut(join(mapDir, path), file.contents);
    } else if (sourcemap) {
      // The comment esbuild wrote names the map beside the file; the map lives in the source map folder instead.
      const pointer = relative(dirname(file.path), join(mapDir, `${path}.map`))
        .split(sep)
        .join('/');
      await writeOut(
        file.path,
        file.text.replace(/\/\/# sourceMappingURL=\S+\s*$/, `//# sourceMappingURL=${pointer}\n`),
      );
    } else {
      await writeOut(file.path, file.contents);
    }
  }
  await writeFile(join(appDir, 'package.json'), `${JSON.stringify(await deployedManifest(root), null, 2)}\n`);
  await copyFile(join(root, 'host.json'), join(appDir, 'host.json'));
  await writeFile(join(appDir, NOTICES_FILE), await thirdPartyNotices(root, metafile));
  await writeFile(join(root, METAFILE), JSON.stringify(metafile));

  const files = (await readdir(appDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(appDir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
  let bytes = 0;
  let deflatedBytes = 0;
  for (const file of files) {
    const content = await readFile(join(appDir, file));
    bytes += content.length;
    deflatedBytes += deflateRawSync(content).length;
  }
  return { appDir, files, bytes, deflatedBytes, metafile, ...(sourcemap ? { sourcemapDir: mapDir } : {}) };
}

/**
 * The entry module: one import of each function file, in the order given. Each function file registers itself with
 * `app.*` when it is imported, as it would as an entry point of its own.
 */
function entryModule(root: string, functionFiles: readonly string[]): Plugin {
  return {
    name: 'dataverse-bridge-entry',
    setup(plugin) {
      plugin.onResolve({ filter: new RegExp(`^${ENTRY_MODULE}$`) }, () => ({ path: ENTRY_MODULE, namespace: 'entry' }));
      plugin.onLoad({ filter: /.*/, namespace: 'entry' }, () => ({
        contents: functionFiles.map((file) => `import './functions/${file}';`).join('\n'),
        resolveDir: root,
        loader: 'ts',
      }));
    },
  };
}

/**
 * The package.json that ships: who the app is, that it is ES modules, and `main` for the host. No dependencies and no
 * scripts, so nothing is installed or built in Azure even if a remote build were asked for.
 */
export async function deployedManifest(root: string): Promise<Record<string, unknown>> {
  const source = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const manifest: Record<string, unknown> = {};
  for (const field of ['name', 'version', 'description', 'license', 'private']) {
    if (source[field] !== undefined) manifest[field] = source[field];
  }
  return { ...manifest, type: 'module', main: ENTRY_FILE, engines: source.engines };
}

/**
 * Throws unless every import the bundle leaves for run time is a Node.js built-in or {@link PROVIDED_BY_THE_HOST}:
 * anything else would need a node_modules folder the package does not have.
 */
export function checkSelfContained(metafile: Metafile): void {
  const builtins = new Set(builtinModules);
  const missing = new Set<string>();
  for (const [output, { imports }] of Object.entries(metafile.outputs)) {
    for (const { path, external } of imports) {
      if (!external) continue;
      const name = path.replace(/^node:/, '');
      if (!path.startsWith('node:') && !builtins.has(name) && !PROVIDED_BY_THE_HOST.includes(path)) {
        missing.add(`${path} (from ${basename(output)})`);
      }
    }
  }
  if (missing.size > 0) {
    throw new BundleError(
      `The bundle would need packages at run time that it does not carry: ${[...missing].join(', ')}.`,
    );
  }
}

/** The npm packages (or, for our own files, the top folders) that went into the bundle, largest first, in bytes. */
export function largestInputs(metafile: Metafile, top = 10): { name: string; bytes: number }[] {
  const sizes = new Map<string, number>();
  for (const [output, { inputs }] of Object.entries(metafile.outputs)) {
    if (output.endsWith('.map')) continue;
    for (const [input, { bytesInOutput }] of Object.entries(inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, -1).join('/');
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))
    .slice(0, top);
}

/**
 * The notices the licenses of the bundled packages ask for when their code is redistributed: each package that went
 * into the bundle, with its version, license and license file (or, when it ships none, its license's name).
 */
export async function thirdPartyNotices(root: string, metafile: Metafile): Promise<string> {
  const folders = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const folder = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (folder) folders.add(folder);
  }
  const sections: string[] = [];
  for (const folder of [...folders].sort()) {
    const directory = join(root, folder);
    const manifest = JSON.parse(await readFile(join(directory, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const licenseFile = (await readdir(directory)).find((file) => /^(licen[cs]e|copying)/i.test(file));
    const text = licenseFile
      ? (await readFile(join(directory, licenseFile), 'utf8')).trim()
      : `${manifest.license ?? 'No license stated'} (the package ships no license file)`;
    sections.push(`${manifest.name} ${manifest.version} (${manifest.license ?? 'unknown'})\n\n${text}`);
  }
  return `This package bundles the following npm packages.\n\n${sections.join(`\n\n${'-'.repeat(80)}\n\n`)}\n`;
}

async function writeOut(path: string, contents: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, contents);
}
