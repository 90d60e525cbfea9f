import { describe, expect, it } from 'vitest';
import { latencyFigures, latencyPercentiles, percentile } from './latency.js';

describe('percentile (nearest rank)', () => {
  it('is always one of the values, whatever their order', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 20)).toBe(1);
    expect(percentile([5, 1, 4, 2, 3], 21)).toBe(2);
    expect(percentile([5, 1, 4, 2, 3], 100)).toBe(5);
  });

  it('makes the p99 of fewer than 100 values their maximum, and of 200 values the second slowest', () => {
    const forty = Array.from({ length: 40 }, (_, i) => i + 1);
    expect(percentile(forty, 99)).toBe(40);
    expect(percentile(forty, 95)).toBe(38); // ceil(0.95 × 40) = 38th
    const twoHundred = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(percentile(twoHundred, 99)).toBe(198);
    expect(percentile(twoHundred, 50)).toBe(100);
  });

  it('is the value itself for one value', () => {
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
  });

  it('refuses no values and percentiles outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('leaves its input in the order it was', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('latencyPercentiles', () => {
  it('gives p50, p95 and p99 of one round', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1
    expect(latencyPercentiles(values)).toEqual({ 50: 50, 95: 95, 99: 99 });
  });
});

describe('latencyFigures', () => {
  const spec = { suite: 'latency', baselineLabel: 'bare writes' };

  it('pairs each percentile of ours with the same percentile of the baseline, as the median over the rounds', () => {
    const rounds = [
      { ours: [10, 20, 30, 40], baseline: [5, 5, 5, 10] },
      { ours: [12, 22, 32, 90], baseline: [6, 6, 6, 30] },
      { ours: [11, 21, 31, 50], baseline: [4, 4, 4, 25] },
    ];
    const [p50, p95, p99] = latencyFigures(16, rounds, spec);
    // p50 of 4 values is the 2nd: ours 20, 22, 21 and baseline 5, 6, 4 → ratios 4, 3.67, 5.25.
    expect(p50).toMatchObject({
      suite: 'latency',
      metric: 'p50, 16 in flight',
      unit: 'ms',
      value: 21,
      baseline: { label: 'bare writes', value: 5 },
      rounds: 3,
      details: { inFlight: 16, contextsPerRound: 4 },
    });
    expect(p50?.ratio).toBeCloseTo(4);
    expect(p50?.spread?.min).toBeCloseTo(22 / 6);
    expect(p50?.spread?.max).toBeCloseTo(21 / 4);
    // p95 and p99 of 4 values are the slowest: ours 40, 90, 50 and baseline 10, 30, 25 → ratios 4, 3, 2.
    expect(p95).toMatchObject({ metric: 'p95, 16 in flight', value: 50, baseline: { value: 25 }, ratio: 3 });
    expect(p99).toMatchObject({ metric: 'p99, 16 in flight', value: 50, baseline: { value: 25 }, ratio: 3 });
  });

  it('sets no goal: the figure is reported, not judged', () => {
    const figures = latencyFigures(1, [{ ours: [1], baseline: [1] }], spec);
    expect(figures.map((f) => f.metric)).toEqual(['p50, 1 in flight', 'p95, 1 in flight', 'p99, 1 in flight']);
    for (const figure of figures) expect(figure.goal).toBeUndefined();
  });
});
