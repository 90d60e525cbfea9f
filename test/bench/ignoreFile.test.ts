import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/localHost.js';
import { isIgnored, parseIgnoreFile } from './ignoreFile.js';

describe('parseIgnoreFile + isIgnored (gitignore syntax, as azd reads .funcignore)', () => {
  it('matches a pattern without a slash at any depth, and a folder with everything in it', () => {
    const rules = parseIgnoreFile('test\n*.ts\n');
    expect(isIgnored(rules, 'test', true)).toBe(true);
    expect(isIgnored(rules, 'node_modules/pkg/test', true)).toBe(true);
    expect(isIgnored(rules, 'shared/config.ts', false)).toBe(true);
    expect(isIgnored(rules, 'node_modules/pkg/index.d.ts', false)).toBe(true);
    expect(isIgnored(rules, 'dist/config.js', false)).toBe(false);
    expect(isIgnored(rules, 'testing', true)).toBe(false);
  });

  it('lets the last matching line decide, so ! puts back what an earlier line left out', () => {
    const rules = parseIgnoreFile('*.ts\n!dist/**\n');
    expect(isIgnored(rules, 'dist/types.ts', false)).toBe(false);
    expect(isIgnored(rules, 'shared/types.ts', false)).toBe(true);
    expect(isIgnored(parseIgnoreFile('!dist/**\n*.ts\n'), 'dist/types.ts', false)).toBe(true);
  });

  it('anchors a pattern with a slash in it to the app folder', () => {
    const rules = parseIgnoreFile('/build\ndocs/internal\n');
    expect(isIgnored(rules, 'build', true)).toBe(true);
    expect(isIgnored(rules, 'src/build', true)).toBe(false);
    expect(isIgnored(rules, 'docs/internal', true)).toBe(true);
    expect(isIgnored(rules, 'node_modules/x/docs/internal', true)).toBe(false);
  });

  it('applies a trailing slash to folders only', () => {
    const rules = parseIgnoreFile('logs/\n');
    expect(isIgnored(rules, 'logs', true)).toBe(true);
    expect(isIgnored(rules, 'logs', false)).toBe(false);
  });

  it('reads * and ? within one path segment, ** across segments, and [] classes', () => {
    const rules = parseIgnoreFile('a/*.map\nv?.txt\nx/**/y.js\n[ab]c.md\n');
    expect(isIgnored(rules, 'a/b.map', false)).toBe(true);
    expect(isIgnored(rules, 'a/b/c.map', false)).toBe(false);
    expect(isIgnored(rules, 'v1.txt', false)).toBe(true);
    expect(isIgnored(rules, 'v10.txt', false)).toBe(false);
    expect(isIgnored(rules, 'x/y.js', false)).toBe(true);
    expect(isIgnored(rules, 'x/p/q/y.js', false)).toBe(true);
    expect(isIgnored(rules, 'bc.md', false)).toBe(true);
    expect(isIgnored(rules, 'cc.md', false)).toBe(false);
  });

  it('skips comments and blank lines, and takes dots and other regex characters literally', () => {
    const rules = parseIgnoreFile('# a comment\n\n   \nlocal.settings.json\n');
    expect(isIgnored(rules, 'local.settings.json', false)).toBe(true);
    expect(isIgnored(rules, 'localXsettings.json', false)).toBe(false);
  });

  it("keeps what azd must ship and leaves out the rest, with the repository's .funcignore", () => {
    const rules = parseIgnoreFile(readFileSync(join(REPO_ROOT, '.funcignore'), 'utf8'));
    for (const [path, isDirectory] of [
      ['dist', true],
      ['dist/functions/health.js', false],
      ['host.json', false],
      ['package.json', false],
      ['node_modules/@azure/functions/dist/azure-functions.js', false],
    ] as const) {
      expect(isIgnored(rules, path, isDirectory), path).toBe(false);
    }
    for (const [path, isDirectory] of [
      ['functions/health.ts', false],
      ['test', true],
      ['tsconfig.test.json', false],
      ['local.settings.json', false],
      ['.git', true],
      ['.gitignore', false],
      ['node_modules/@azure/functions/types/index.d.ts', false],
    ] as const) {
      expect(isIgnored(rules, path, isDirectory), path).toBe(true);
    }
  });

  it("leaves the dev tooling (tools/, compiled to dist/tools/) out of the package, with the repository's .funcignore", () => {
    const rules = parseIgnoreFile(readFileSync(join(REPO_ROOT, '.funcignore'), 'utf8'));
    for (const [path, isDirectory] of [
      ['tools', true],
      ['dist/tools', true],
      ['dist/tools/cli/main.js', false],
      ['dist/tools/localhost/server.js', false],
    ] as const) {
      expect(isIgnored(rules, path, isDirectory), path).toBe(true);
    }
    for (const path of ['dist/shared/runtime.js', 'dist/shared/connector/openapi.js']) {
      expect(isIgnored(rules, path, false), path).toBe(false);
    }
  });
});
