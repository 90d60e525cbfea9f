import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIgnoreFile } from './ignoreFile.js';
import { packageSize, productionDependencies } from './packageSize.js';

/** A small installed app. Sizes in the comments are counted by hand. */
const APP: Record<string, string> = {
  'package.json': '{"dependencies":{"a":"1"}}', // 26 bytes
  '.funcignore': '*.ts\ntest\n', // 10
  'index.js': 'x'.repeat(100), // 100
  'types.ts': 'y'.repeat(50), // left out: *.ts
  'test/a.test.js': 'z'.repeat(70), // left out: test
  // a needs b (its own copy, nested), c (a peer), and "gone" (optional, not installed).
  'node_modules/a/package.json':
    '{"version":"1.0.0","dependencies":{"b":"1"},"optionalDependencies":{"gone":"1"},"peerDependencies":{"c":"1"}}', // 109
  'node_modules/a/index.js': 'a'.repeat(200), // 200
  'node_modules/a/index.d.ts': 'd'.repeat(30), // left out: *.ts
  'node_modules/a/node_modules/b/package.json': '{"version":"2.0.0"}', // 19
  'node_modules/a/node_modules/b/lib.js': 'b'.repeat(300), // 300
  'node_modules/c/package.json': '{"version":"3.0.0"}', // 19
  'node_modules/c/c.js': 'c'.repeat(40), // 40
  // Installed but not needed in production: the hoisted b that a does not resolve to, and a dev tool.
  'node_modules/b/package.json': '{"version":"1.0.0"}',
  'node_modules/b/lib.js': 'B'.repeat(1000),
  'node_modules/dev/package.json': '{"version":"9.0.0"}',
  'node_modules/dev/tool.js': 'T'.repeat(5000),
};

/** The files that ship: everything but the ignored and the not-needed ones above. */
const SHIPPED = [
  'package.json',
  '.funcignore',
  'index.js',
  'node_modules/a/package.json',
  'node_modules/a/index.js',
  'node_modules/a/node_modules/b/package.json',
  'node_modules/a/node_modules/b/lib.js',
  'node_modules/c/package.json',
  'node_modules/c/c.js',
];

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'package-size-'));
  await writeTree(root, APP);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('productionDependencies', () => {
  it('follows dependencies, installed optional ones and peers the way Node resolves them, each once', async () => {
    const found = await productionDependencies(root);
    expect(found.map(({ name, version, path }) => ({ name, version, path }))).toEqual([
      { name: 'a', version: '1.0.0', path: 'node_modules/a' },
      { name: 'b', version: '2.0.0', path: 'node_modules/a/node_modules/b' },
      { name: 'c', version: '3.0.0', path: 'node_modules/c' },
    ]);
  });

  it('fails, naming it, when a required dependency is not installed', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'package-size-broken-'));
    try {
      await writeTree(broken, { 'package.json': '{"name":"broken","dependencies":{"missing-pkg":"1"}}' });
      await expect(productionDependencies(broken)).rejects.toThrow(
        'missing-pkg, a dependency of broken, is not installed: run "npm install".',
      );
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});

describe('packageSize', () => {
  it('counts the app files and production dependencies the ignore rules keep', async () => {
    const size = await packageSize(root, parseIgnoreFile(APP['.funcignore'] as string));
    // 26 + 10 + 100 (app) + 109 + 200 (a) + 19 + 300 (nested b) + 19 + 40 (c)
    expect(size.bytes).toBe(823);
    expect(size.files).toBe(9);
    expect(size.app).toMatchObject({ files: 3, bytes: 136 });
    expect(size.dependencies.map(({ path, files, bytes }) => ({ path, files, bytes }))).toEqual([
      { path: 'node_modules/a/node_modules/b', files: 2, bytes: 319 },
      { path: 'node_modules/a', files: 2, bytes: 309 },
      { path: 'node_modules/c', files: 2, bytes: 59 },
    ]);
  });

  it('deflates each file on its own, as a zip stores it', async () => {
    const size = await packageSize(root, parseIgnoreFile(APP['.funcignore'] as string));
    const expected = SHIPPED.reduce((sum, path) => sum + deflateRawSync(APP[path] as string).length, 0);
    expect(size.deflatedBytes).toBe(expected);
    // Runs of one letter compress far below their size.
    expect(size.deflatedBytes).toBeLessThan(size.bytes / 2);
  });

  it('ships everything installed for production when no rule leaves anything out', async () => {
    const size = await packageSize(root, parseIgnoreFile(''));
    // 823 + types.ts 50 + test/a.test.js 70 + index.d.ts 30
    expect(size.bytes).toBe(973);
    expect(size.files).toBe(12);
  });
});

async function writeTree(base: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(base, path)), { recursive: true });
    await writeFile(join(base, path), content);
  }
}
