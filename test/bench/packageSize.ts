import { existsSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { type IgnoreRules, isIgnored } from './ignoreFile.js';

/** Bytes of a set of files: as stored (the sum of file sizes) and deflated one by one, as a zip stores them. */
export interface Bytes {
  files: number;
  bytes: number;
  deflatedBytes: number;
}

/** One production dependency's own files (nested `node_modules` are dependencies of their own). */
export interface DependencySize extends Bytes {
  name: string;
  version: string;
  /** Where it lands in the package, e.g. `node_modules/@azure/core-rest-pipeline`. */
  path: string;
}

/** What azd would zip for an app folder. */
export interface PackageSize extends Bytes {
  /** The app's own files (everything outside `node_modules` the ignore rules keep). */
  app: Bytes;
  /** Every production dependency, largest first. */
  dependencies: DependencySize[];
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/**
 * The size of what `azd deploy` ships for a function app folder without changing it: the folder's files as the
 * ignore rules (azd's, see `deployIgnoreRules`) filter them, plus the production dependency closure installed in
 * `node_modules` (none for the bundle, whose package.json has no dependencies), filtered by the same rules.
 *
 * @example
 * const size = await packageSize('dist/app', deployIgnoreRules('dist/app'));
 * size.deflatedBytes; // about the zip's size
 */
export async function packageSize(appRoot: string, rules: IgnoreRules): Promise<PackageSize> {
  const app = emptyBytes();
  await walk(appRoot, '', rules, app);
  const dependencies: DependencySize[] = [];
  for (const dependency of await productionDependencies(appRoot)) {
    const size: DependencySize = { ...emptyBytes(), ...dependency };
    await walk(dependency.directory, dependency.path, rules, size);
    dependencies.push({
      name: size.name,
      version: size.version,
      path: size.path,
      files: size.files,
      bytes: size.bytes,
      deflatedBytes: size.deflatedBytes,
    });
  }
  dependencies.sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
  const total = [app, ...dependencies].reduce(add, emptyBytes());
  return { ...total, app, dependencies };
}

/** A production dependency found on disk. */
export interface InstalledDependency {
  name: string;
  version: string;
  directory: string;
  /** Its place in the deployed folder, e.g. `node_modules/a/node_modules/b`. */
  path: string;
}

/**
 * The production dependency closure of the app at `appRoot`, each package directory once: `dependencies`,
 * `optionalDependencies` that are installed and non-optional `peerDependencies`, followed transitively and resolved
 * the way Node does (the nearest `node_modules` up the folder tree). Throws when a required one is not installed.
 */
export async function productionDependencies(appRoot: string): Promise<InstalledDependency[]> {
  const found = new Map<string, InstalledDependency>();
  // The folder whose node_modules holds the app's dependencies: the app's own after `npm install`, the repository's
  // for the bare app (which borrows the repository's node_modules). Paths in the package are relative to it.
  let installRoot: string | undefined;
  const queue: string[] = [await realpath(appRoot)];
  while (queue.length > 0) {
    const from = queue.shift() as string;
    const pkg = await readPackageJson(from);
    for (const [name, optional] of dependencyNames(pkg)) {
      const resolved = await resolvePackage(name, from);
      if (resolved === undefined) {
        if (optional) continue;
        throw new Error(`${name}, a dependency of ${pkg.name ?? from}, is not installed: run "npm install".`);
      }
      const { directory, root } = resolved;
      if (found.has(directory)) continue;
      installRoot ??= root;
      const { version = '' } = await readPackageJson(directory);
      const path = relative(installRoot, directory).split(sep).join('/');
      found.set(directory, { name, version, directory, path });
      queue.push(directory);
    }
  }
  return [...found.values()];
}

/** The names a package needs at run time, each with whether it may be missing. */
function dependencyNames(pkg: PackageJson): [string, boolean][] {
  const names = new Map<string, boolean>();
  for (const name of Object.keys(pkg.dependencies ?? {})) names.set(name, false);
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) names.set(name, true);
  for (const name of Object.keys(pkg.peerDependencies ?? {})) {
    if (!names.has(name)) names.set(name, pkg.peerDependenciesMeta?.[name]?.optional === true);
  }
  return [...names];
}

/**
 * Package `name` as Node would find it from `from`, the nearest `node_modules/<name>` up the tree: its real directory,
 * and the folder whose `node_modules` holds it.
 */
async function resolvePackage(name: string, from: string): Promise<{ directory: string; root: string } | undefined> {
  for (let root = from; ; root = dirname(root)) {
    const candidate = join(root, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return { directory: await realpath(candidate), root };
    if (dirname(root) === root) return undefined;
  }
}

async function readPackageJson(directory: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(directory, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * Adds every file under `directory` the rules keep to `total`. `path` is the directory's place in the deployed
 * folder, which is what the rules are matched against. Symbolic links are left out (`npm prune` leaves only
 * `.bin` links, which the app does not need).
 */
async function walk(directory: string, path: string, rules: IgnoreRules, total: Bytes): Promise<void> {
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const entryPath = path === '' ? entry.name : `${path}/${entry.name}`;
    const full = join(directory, entry.name);
    if (entry.isDirectory()) {
      // Packages under node_modules are counted as dependencies, each once, and only those production needs.
      if (entry.name !== 'node_modules' && !isIgnored(rules, entryPath, true))
        await walk(full, entryPath, rules, total);
    } else if (entry.isFile() && !isIgnored(rules, entryPath, false)) {
      const content = await readFile(full);
      total.files++;
      total.bytes += content.length;
      total.deflatedBytes += deflateRawSync(content).length;
    }
  }
}

function emptyBytes(): Bytes {
  return { files: 0, bytes: 0, deflatedBytes: 0 };
}

function add(sum: Bytes, part: Bytes): Bytes {
  return {
    files: sum.files + part.files,
    bytes: sum.bytes + part.bytes,
    deflatedBytes: sum.deflatedBytes + part.deflatedBytes,
  };
}
