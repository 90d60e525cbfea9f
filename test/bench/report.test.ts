import { describe, expect, it } from 'vitest';
import type { Figure } from './measure.js';
import { benchReport, formatNumber, formatRatio, formatTable } from './report.js';

const parse: Figure = {
  suite: 'parse',
  metric: 'time per context',
  value: 11.9,
  unit: 'µs',
  baseline: { label: 'JSON.parse', value: 7 },
  ratio: 1.7,
  spread: { min: 1.52, max: 1.884 },
  rounds: 9,
  goal: 2,
  met: true,
};

describe('formatTable', () => {
  it('prints a header and one aligned line per figure: ours, baseline, ratio with its range, goal', () => {
    const lines = formatTable([parse, { ...parse, suite: 'cold start', metric: 'load', value: 1234.4, unit: 'ms' }]);
    expect(lines).toHaveLength(3);
    expect(lines[0]?.split(/\s{2,}/)).toEqual(['suite', 'metric', 'ours', 'baseline', 'ratio (range)', 'goal']);
    expect(lines[1]?.split(/\s{2,}/)).toEqual([
      'parse',
      'time per context',
      '11.90 µs',
      '7.00 µs (JSON.parse)',
      '1.70 (1.52–1.88)',
      '≤ 2',
    ]);
    expect(lines[2]).toContain('1,234 ms');
    // Columns line up: every line has its ratio where the header's ratio column starts.
    const ratioColumn = lines[0]?.indexOf('ratio (range)');
    expect(lines[1]?.indexOf('1.70 (')).toBe(ratioColumn);
    expect(lines[2]?.indexOf('1.70 (')).toBe(ratioColumn);
  });

  it('marks a ratio over its goal MISSED', () => {
    const [, line] = formatTable([{ ...parse, ratio: 2.4, met: false }]);
    expect(line).toMatch(/≤ 2\s+MISSED$/);
  });

  it('leaves the baseline, ratio and goal columns empty for a figure without them', () => {
    const [, line] = formatTable([{ suite: 'x', metric: 'count', value: 3, unit: 'n', rounds: 1 }]);
    expect(line).toBe('x      count   3.00 n');
  });
});

describe('formatRatio', () => {
  it('leaves the range out when every round gave the same ratio', () => {
    expect(formatRatio({ ...parse, ratio: 1, spread: { min: 1, max: 1 } })).toBe('1.00');
    expect(formatRatio({ ...parse, spread: { min: 1.701, max: 1.704 } })).toBe('1.70');
  });

  it('is empty without a ratio', () => {
    expect(formatRatio({ suite: 'x', metric: 'y', value: 1, unit: 'n', rounds: 1 })).toBe('');
  });
});

describe('formatNumber', () => {
  it('shows two decimals below 100 and whole numbers with separators from 100 up', () => {
    expect(formatNumber(0.456)).toBe('0.46');
    expect(formatNumber(99.994)).toBe('99.99');
    expect(formatNumber(100)).toBe('100');
    expect(formatNumber(1229.6)).toBe('1,230');
  });
});

describe('benchReport', () => {
  it('wraps the figures with the run facts the JSON report carries', () => {
    const report = benchReport([parse], 9, ['parse']);
    expect(report).toEqual({
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: expect.any(Number),
      rounds: 9,
      suites: ['parse'],
      figures: [parse],
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});
