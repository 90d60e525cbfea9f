import { describe, expect, it } from 'vitest';
import { costRatio, type FigureSpec, median, pairedFigure } from './measure.js';

const spec: FigureSpec = { suite: 's', metric: 'm', unit: 'ms', baselineLabel: 'bare', direction: 'cost' };

describe('median', () => {
  it('is the middle value of an odd count, whatever the order', () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([7])).toBe(7);
  });

  it('is the mean of the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 20])).toBe(15);
  });

  it('is not moved by one outlier, unlike the mean', () => {
    expect(median([10, 11, 12, 13, 900])).toBe(12);
  });

  it('refuses no values', () => {
    expect(() => median([])).toThrow(RangeError);
  });

  it('leaves its input in the order it was', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('costRatio', () => {
  it('is value / baseline for costs (times, counts, bytes)', () => {
    expect(costRatio({ value: 150, baseline: 100 }, 'cost')).toBe(1.5);
  });

  it('is baseline / value for rates, so a slower rate is a higher cost', () => {
    expect(costRatio({ value: 500, baseline: 1000 }, 'rate')).toBe(2);
  });
});

describe('pairedFigure', () => {
  it('takes the medians of ours and the baseline, and the median and range of the per-round ratios', () => {
    // Rounds: 10/5 = 2, 30/10 = 3, 12/8 = 1.5.
    const figure = pairedFigure(spec, [
      { value: 10, baseline: 5 },
      { value: 30, baseline: 10 },
      { value: 12, baseline: 8 },
    ]);
    expect(figure).toEqual({
      suite: 's',
      metric: 'm',
      unit: 'ms',
      value: 12,
      baseline: { label: 'bare', value: 8 },
      ratio: 2,
      spread: { min: 1.5, max: 3 },
      rounds: 3,
    });
  });

  it('takes the ratio within each round, not the ratio of the medians', () => {
    // Medians 20 and 20 would say 1.0; the rounds say 0.5, 2 and 4: the machine slowed both sides alike per round.
    const figure = pairedFigure(spec, [
      { value: 10, baseline: 20 },
      { value: 20, baseline: 10 },
      { value: 80, baseline: 20 },
    ]);
    expect(figure.value).toBe(20);
    expect(figure.baseline?.value).toBe(20);
    expect(figure.ratio).toBe(2);
    expect(figure.spread).toEqual({ min: 0.5, max: 4 });
  });

  it('inverts the ratio for rates', () => {
    // msg/s: 500 vs 1000 → 2, 400 vs 1000 → 2.5, 600 vs 900 → 1.5.
    const figure = pairedFigure({ ...spec, unit: 'msg/s', direction: 'rate' }, [
      { value: 500, baseline: 1000 },
      { value: 400, baseline: 1000 },
      { value: 600, baseline: 900 },
    ]);
    expect(figure.value).toBe(500);
    expect(figure.baseline?.value).toBe(1000);
    expect(figure.ratio).toBe(2);
    expect(figure.spread).toEqual({ min: 1.5, max: 2.5 });
  });

  it('says whether the median ratio is within the goal', () => {
    const samples = [
      { value: 3, baseline: 2 },
      { value: 5, baseline: 2 },
    ];
    // Ratios 1.5 and 2.5: median 2.
    expect(pairedFigure({ ...spec, goal: 2 }, samples)).toMatchObject({ ratio: 2, goal: 2, met: true });
    expect(pairedFigure({ ...spec, goal: 1.9 }, samples)).toMatchObject({ ratio: 2, goal: 1.9, met: false });
    expect(pairedFigure(spec, samples)).not.toHaveProperty('met');
  });

  it('carries the details for the JSON report', () => {
    const figure = pairedFigure({ ...spec, details: { files: 3 } }, [{ value: 1, baseline: 1 }]);
    expect(figure.details).toEqual({ files: 3 });
    expect(figure.spread).toEqual({ min: 1, max: 1 });
  });
});
