import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS_WITHOUT_TOPIC, REPO_ROOT } from '../helpers/localHost.js';
import type { BenchReport } from './report.js';

/** Runs `npm run bench -- <args>` as npm would (tsx), without the test runner's NODE_OPTIONS. */
function bench(...args: string[]) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'bench', 'main.ts'), ...args], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run bench', () => {
  it('prints only the JSON report on stdout with --json, progress on stderr', () => {
    const run = bench('--json', '--rounds', '1', '--only', 'coldStart');
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as BenchReport;
    expect(report).toMatchObject({ node: process.version, rounds: 1, suites: ['coldStart'] });
    expect(report.figures.map((f) => [f.suite, f.metric, f.unit])).toEqual([
      ['cold start', 'load entry points (loadApp)', 'ms'],
      ['cold start', 'process, spawn to exit', 'ms'],
      ['cold start', 'heap used after load', 'MB'],
      ['cold start', 'RSS after load', 'MB'],
    ]);
    for (const figure of report.figures) {
      expect(figure).toMatchObject({
        rounds: 1,
        value: expect.any(Number),
        baseline: { label: 'bare @azure/functions app', value: expect.any(Number) },
        ratio: expect.any(Number),
      });
      // One round: the range is that round's ratio.
      expect(figure.spread).toEqual({ min: figure.ratio, max: figure.ratio });
    }
    // The bundle carries its packages: none comes from a node_modules folder.
    expect(report.figures[0]?.details).toMatchObject({
      functions: FUNCTIONS_WITHOUT_TOPIC.length,
      baselineFunctions: 1,
      packagesAtStartUp: [],
    });
    expect(run.stderr).toContain('cold start round 1/1');
  });

  it('prints the help with --help, and the help with the mistake for a bad option (exit code 2)', () => {
    const help = bench('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run bench');
    const bad = bench('--rounds', '0');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('--rounds must be a whole number from 1 up, got "0"');
    expect(bad.stderr).toContain('Usage: npm run bench');
  });
});
