import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployIgnoreRules, isIgnored, parseIgnoreFile } from './ignoreFile.js';

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

  it('leaves out what azd always leaves out of a package folder, and what its own .funcignore names', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'deploy-ignore-'));
    try {
      const plain = deployIgnoreRules(folder);
      for (const path of ['host.json', 'package.json', 'functions/health.js', 'chunks/chunk-ABC.js', 'a.js.map']) {
        expect(isIgnored(plain, path, false), path).toBe(false);
      }
      for (const path of ['local.settings.json', '.funcignore', 'sub/local.settings.json']) {
        expect(isIgnored(plain, path, false), path).toBe(true);
      }
      expect(isIgnored(plain, '.azure', true)).toBe(true);

      await writeFile(join(folder, '.funcignore'), '*.map\n');
      const own = deployIgnoreRules(folder);
      expect(isIgnored(own, 'functions/health.js.map', false)).toBe(true);
      expect(isIgnored(own, 'functions/health.js', false)).toBe(false);
      expect(isIgnored(own, 'local.settings.json', false)).toBe(true);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
