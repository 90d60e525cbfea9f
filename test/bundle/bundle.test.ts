import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_DIR,
  BundleError,
  bundleApp,
  checkSelfContained,
  largestInputs,
  METAFILE,
  SOURCEMAP_DIR,
} from '../../tools/bundle/bundle.js';
import { entryPoints } from '../../tools/localhost/registrations.js';
import { APP_PACKAGE, COMPILED_LOADER } from '../bench/build.js';
import { appSettings, loadInFreshProcess } from '../bench/coldStart.js';
import { FUNCTIONS_WITHOUT_TOPIC, REPO_ROOT } from '../helpers/localHost.js';

// These read the bundle `npm run build` wrote to dist/app (`npm test` builds first).

const read = (...parts: string[]) => readFileSync(join(...parts), 'utf8');

async function filesUnder(folder: string): Promise<string[]> {
  return (await readdir(folder, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** The npm package an esbuild input path belongs to, or undefined for our own files. */
function packageOf(input: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input)?.[1];
}

describe('the deployment package (dist/app)', () => {
  it('holds host.json, a package.json for the host, one entry file for every function, its chunks and the notices', async () => {
    const files = await filesUnder(APP_PACKAGE);
    const unexpected = files.filter(
      (file) => !/^(host\.json|package\.json|THIRD-PARTY-NOTICES\.txt|index\.js|chunks\/[\w-]+\.js)$/.test(file),
    );
    expect(unexpected).toEqual([]);
    expect(files).toContain('index.js');
    // Every function file went into the one entry file (the metafile says which inputs each output holds).
    const metafile = JSON.parse(read(REPO_ROOT, METAFILE)) as Metafile;
    const sources = (await readdir(join(REPO_ROOT, 'functions'))).filter((f) => f.endsWith('.ts')).sort();
    expect(
      Object.keys(metafile.outputs[`${APP_DIR.split(sep).join('/')}/index.js`]?.inputs ?? {})
        .filter((input) => input.startsWith('functions/'))
        .sort(),
    ).toEqual(sources.map((f) => `functions/${f}`));
    expect(read(APP_PACKAGE, 'host.json')).toBe(read(REPO_ROOT, 'host.json'));
    const root = JSON.parse(read(REPO_ROOT, 'package.json'));
    // Who the app is and where its entry points are; no dependencies or scripts for anything to install or run.
    expect(JSON.parse(read(APP_PACKAGE, 'package.json'))).toEqual({
      name: 'dataverse-bridge',
      version: root.version,
      description: root.description,
      license: 'MIT',
      private: true,
      type: 'module',
      main: 'index.js',
      engines: { node: '>=20' },
    });
    // The repository's main names the same file, for a Functions host started at its root.
    expect(root.main).toBe(`${APP_DIR.split(sep).join('/')}/index.js`);
    const fromRoot = (await entryPoints(REPO_ROOT)).map((file) => relative(APP_PACKAGE, file).split(sep).join('/'));
    expect(fromRoot).toEqual(['index.js']);
  });

  it('is what azd deploys: azure.yaml zips dist/app, built here', () => {
    const azureYaml = read(REPO_ROOT, 'azure.yaml');
    expect(/^ {4}dist: (\S+)$/m.exec(azureYaml)?.[1]).toBe('dist/app');
    expect(/^ {4}remoteBuild: (\S+)$/m.exec(azureYaml)?.[1]).toBe('false');
    // Nothing to prune or reinstall around packaging any more: the folder has no node_modules.
    expect(azureYaml).not.toMatch(/prepackage|postpackage/);
  });

  describe('copied to a folder with no node_modules anywhere above it', () => {
    let folder: string;
    beforeAll(async () => {
      folder = await mkdtemp(join(tmpdir(), 'bundle-alone-'));
      await cp(APP_PACKAGE, folder, { recursive: true });
      for (let up = folder; dirname(up) !== up; up = dirname(up)) {
        expect(existsSync(join(up, 'node_modules')), up).toBe(false);
      }
    });
    afterAll(async () => {
      await rm(folder, { recursive: true, force: true });
    });

    it('registers every function, and loads no npm package from anywhere', async () => {
      const loaded = await loadInFreshProcess(folder, { packages: true });
      expect(loaded.functions.sort()).toEqual(FUNCTIONS_WITHOUT_TOPIC);
      expect(loaded.packages).toEqual([]);
    });

    it('answers a request through a handler module loaded on the first call, with ajv from the bundle', () => {
      // The host side (the loader, HttpRequest) comes from the repository, as the worker's own code would; the app
      // has only its folder.
      const functionsLibrary = pathToFileURL(
        join(REPO_ROOT, 'node_modules', '@azure', 'functions', 'dist', 'azure-functions.js'),
      );
      const script = [
        `import { loadApp } from ${JSON.stringify(pathToFileURL(COMPILED_LOADER).href)};`,
        `import library from ${JSON.stringify(functionsLibrary.href)};`,
        `const registrations = await loadApp(${JSON.stringify(folder)});`,
        "const { handler } = registrations.find((r) => r.name === 'createSubscription');",
        'const request = new library.HttpRequest({',
        "  method: 'POST', url: 'http://localhost/api/subscriptions',",
        "  headers: { 'content-type': 'application/json' }, body: { string: '{\"callbackUrl\":5}' },",
        '});',
        'process.stdout.write(JSON.stringify(await handler(request, new library.InvocationContext())));',
      ].join('\n');
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', ...appSettings() },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const answer = JSON.parse(run.stdout);
      expect(answer.status).toBe(400);
      expect(answer.jsonBody.error).toMatchObject({ code: 'InvalidBody', target: 'callbackUrl' });
    });
  });

  describe("esbuild's metafile (dist/app-meta.json)", () => {
    const metafile = JSON.parse(read(REPO_ROOT, METAFILE)) as Metafile;
    const inputs = Object.keys(metafile.inputs);
    const packages = new Set(inputs.map(packageOf).filter((name) => name !== undefined));

    it('comes with the license of every package it bundles', () => {
      const notices = read(APP_PACKAGE, 'THIRD-PARTY-NOTICES.txt');
      const folders = new Set(inputs.map((input) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1]));
      folders.delete(undefined);
      expect(folders.size).toBeGreaterThan(20);
      for (const folder of folders) {
        const { name, version } = JSON.parse(read(REPO_ROOT, folder as string, 'package.json'));
        expect(notices, folder).toContain(`${name} ${version} (`);
      }
      expect(notices).toContain('Permission is hereby granted, free of charge'); // the MIT text, not just its name
    });

    it('holds none of the dev tooling: no input from tools/ (the local host, the CLI, the lint, the build scripts)', () => {
      expect(inputs.filter((input) => input.startsWith('tools/'))).toEqual([]);
      expect(inputs.some((input) => input.startsWith('functions/'))).toBe(true);
    });

    it('bundles the node builds: no @azure/msal-browser, which @azure/identity pulls in for browsers', () => {
      expect(packages.has('@azure/msal-browser')).toBe(false);
      for (const name of ['@azure/functions', '@azure/identity', '@azure/msal-node', 'ajv', 'ipaddr.js']) {
        expect(packages.has(name), name).toBe(true);
      }
    });

    it('loads at start-up only @azure/functions and what it needs; the SDKs are in chunks loaded on first use', () => {
      const startUp = new Set<string>();
      const visit = (output: string) => {
        if (startUp.has(output)) return;
        startUp.add(output);
        for (const { path, kind, external } of metafile.outputs[output]?.imports ?? []) {
          if (kind === 'import-statement' && !external) visit(path);
        }
      };
      visit(`${APP_DIR.split(sep).join('/')}/index.js`);
      // One entry file, and the few chunks it shares with the handler modules: what a cold start reads.
      expect(startUp.size).toBeGreaterThan(1);
      expect(startUp.size).toBeLessThan(16);
      const loadedAtStartUp = new Set(
        [...startUp].flatMap((output) => Object.keys(metafile.outputs[output]?.inputs ?? {}).map(packageOf)),
      );
      loadedAtStartUp.delete(undefined);
      expect([...loadedAtStartUp].sort()).toEqual(['@azure/functions', '@azure/functions-extensions-base', 'cookie']);
      for (const name of ['@azure/data-tables', '@azure/storage-blob', '@azure/eventgrid', '@azure/identity', 'ajv']) {
        expect(packages.has(name), name).toBe(true);
      }
    });
  });
});

describe('checkSelfContained', () => {
  const withImports = (...paths: string[]): Metafile => ({
    inputs: {},
    outputs: {
      'dist/app/functions/a.js': {
        bytes: 1,
        inputs: {},
        exports: [],
        imports: paths.map((path) => ({ path, kind: 'require-call' as const, external: true })),
      },
    },
  });

  it("accepts Node's built-ins and the worker's @azure/functions-core", () => {
    expect(() => checkSelfContained(withImports('node:fs', 'crypto', 'util', '@azure/functions-core'))).not.toThrow();
  });

  it('refuses any other package left for run time, naming it and the file that needs it', () => {
    expect(() => checkSelfContained(withImports('node:fs', 'ajv'))).toThrow(BundleError);
    expect(() => checkSelfContained(withImports('ajv'))).toThrow(
      'packages at run time that it does not carry: ajv (from a.js)',
    );
  });
});

describe('largestInputs', () => {
  it('adds up what each package and each of our folders left in the outputs, largest first', () => {
    const metafile = {
      inputs: {},
      outputs: {
        'a.js': {
          bytes: 0,
          exports: [],
          imports: [],
          inputs: {
            'node_modules/@azure/core/dist/a.js': { bytesInOutput: 30 },
            'node_modules/tslib/tslib.es6.mjs': { bytesInOutput: 5 },
            'shared/config.ts': { bytesInOutput: 20 },
          },
        },
        'b.js': {
          bytes: 0,
          exports: [],
          imports: [],
          inputs: {
            'node_modules/@azure/core/dist/b.js': { bytesInOutput: 15 },
            'shared/pipeline/ingest.ts': { bytesInOutput: 40 },
          },
        },
        'b.js.map': { bytes: 0, exports: [], imports: [], inputs: { 'shared/config.ts': { bytesInOutput: 999 } } },
      },
    } as Metafile;
    expect(largestInputs(metafile, 3)).toEqual([
      { name: '@azure/core', bytes: 45 },
      { name: 'shared/pipeline', bytes: 40 },
      { name: 'shared', bytes: 20 },
    ]);
  });
});

describe('bundleApp', () => {
  let root: string;
  beforeAll(async () => {
    // A small project of its own, so that this does not rewrite the repository's dist/app under other tests.
    root = await mkdtemp(join(tmpdir(), 'bundle-app-'));
    const files: Record<string, string> = {
      'package.json': JSON.stringify({
        name: 'demo',
        version: '1.2.3',
        type: 'module',
        main: 'dist/app/index.js',
        scripts: { build: 'tsc' },
        dependencies: { ajv: '^8' },
        engines: { node: '>=20' },
      }),
      'host.json': '{"version":"2.0"}\n',
      // Registers itself when imported, as a function file does with app.http.
      'functions/hello.ts': [
        'export async function hello(): Promise<string> {',
        "  const { fail } = await import('../lib/fail.js');",
        '  return fail();',
        '}',
        '(globalThis as { hello?: () => Promise<string> }).hello = hello;',
      ].join('\n'),
      'lib/fail.ts': "export function fail(): string {\n  throw new Error('failed on purpose');\n}\n",
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const runHello = (...flags: string[]) =>
    spawnSync(
      process.execPath,
      [
        ...flags,
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(pathToFileURL(join(root, APP_DIR, 'index.js')).href)});
         await globalThis.hello().catch((error) => console.log(error.stack));`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );

  it('writes source maps on request beside the package, never in it, and stack traces then point into the TypeScript', async () => {
    const result = await bundleApp({ root, sourcemap: true });
    // The lazily imported module is a chunk of its own (esbuild may add a chunk of helpers both share).
    expect(result.files.filter((file) => !file.startsWith('chunks/chunk-'))).toEqual([
      'THIRD-PARTY-NOTICES.txt',
      expect.stringMatching(/^chunks\/fail-\w+\.js$/),
      'host.json',
      'index.js',
      'package.json',
    ]);
    const maps = await filesUnder(join(root, SOURCEMAP_DIR));
    expect(maps).toEqual(result.files.filter((file) => file.endsWith('.js')).map((file) => `${file}.map`));
    // The package's manifest: main for the host, nothing to install or run.
    expect(JSON.parse(await readFile(join(root, APP_DIR, 'package.json'), 'utf8'))).toEqual({
      name: 'demo',
      version: '1.2.3',
      type: 'module',
      main: 'index.js',
      engines: { node: '>=20' },
    });
    const run = runHello('--enable-source-maps');
    expect(run.stdout).toContain('failed on purpose');
    expect(run.stdout).toMatch(/lib[/\\]fail\.ts:2/);
  });

  it('removes the source maps of an earlier build when built without them', async () => {
    await bundleApp({ root, sourcemap: true });
    const result = await bundleApp({ root });
    expect(result.sourcemapDir).toBeUndefined();
    expect(existsSync(join(root, SOURCEMAP_DIR))).toBe(false);
    expect(await readFile(join(root, APP_DIR, 'index.js'), 'utf8')).not.toContain('sourceMappingURL');
    const run = runHello('--enable-source-maps');
    expect(run.stdout).toContain('failed on purpose');
    expect(run.stdout).not.toContain('fail.ts');
  });

  it('fails with a BundleError that names what esbuild could not resolve', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'bundle-broken-'));
    try {
      await mkdir(join(broken, 'functions'));
      await writeFile(join(broken, 'package.json'), '{"name":"broken","type":"module"}');
      await writeFile(join(broken, 'host.json'), '{}');
      await writeFile(join(broken, 'functions', 'a.ts'), "import 'no-such-package-anywhere';\n");
      const attempt = bundleApp({ root: broken });
      await expect(attempt).rejects.toThrow(BundleError);
      await expect(bundleApp({ root: broken })).rejects.toThrow('no-such-package-anywhere');
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
