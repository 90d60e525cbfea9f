/** One figure of the benchmark report, always next to the baseline it is judged against. */
export interface Figure {
  suite: string;
  metric: string;
  /** Ours: the median over the rounds. */
  value: number;
  unit: string;
  /** What the figure is judged against, measured in the same run (the median over the same rounds). */
  baseline?: { label: string; value: number };
  /**
   * Our cost over the baseline's cost, the median of the per-round ratios; lower is better. For times, counts and
   * sizes that is value / baseline; for rates (per second) it is baseline / value.
   */
  ratio?: number;
  /** The smallest and largest per-round ratio: how much the machine moved the figure during the run. */
  spread?: { min: number; max: number };
  /** How many rounds the medians are taken over. */
  rounds: number;
  /** The ratio the project aims to stay under. */
  goal?: number;
  /** Whether the ratio is within the goal (only when there is one). */
  met?: boolean;
  /** Extra facts for the JSON report (not printed in the table). */
  details?: Record<string, unknown>;
}

/** What every suite is given. */
export interface SuiteOptions {
  /** How many rounds of ours-then-baseline to measure. */
  rounds: number;
  /** Progress, for stderr (never mixed into the JSON report). */
  log: (line: string) => void;
}

/** One round's measurement of ours and of the baseline, in the figure's unit. */
export interface Sample {
  value: number;
  baseline: number;
}

/** Whether more of the unit costs more (times, counts, bytes) or is better (rates such as messages/s). */
export type Direction = 'cost' | 'rate';

/** What describes a figure besides its samples. */
export interface FigureSpec {
  suite: string;
  metric: string;
  unit: string;
  baselineLabel: string;
  direction: Direction;
  goal?: number;
  details?: Record<string, unknown>;
}

/**
 * The median: the middle value, or the mean of the two middle values for an even count. Robust to the odd round a
 * busy neighbour slowed down, which is why the report uses it rather than the mean.
 *
 * @example
 * median([3, 1, 2]); // 2
 * median([4, 1, 3, 2]); // 2.5
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Our cost over the baseline's in one round (see {@link Figure.ratio}). */
export function costRatio(sample: Sample, direction: Direction): number {
  return direction === 'cost' ? sample.value / sample.baseline : sample.baseline / sample.value;
}

/**
 * A figure from rounds measured in alternation (ours, baseline, ours, baseline, …): the median of ours, the median of
 * the baseline, and the median and range of the per-round ratios. A ratio taken within a round compares two
 * measurements made under the same load, so it moves less than either value does.
 *
 * @example
 * const figure = pairedFigure(spec, [{ value: 2, baseline: 1 }, { value: 3, baseline: 2 }, { value: 9, baseline: 3 }]);
 * figure.ratio; // 2 (ratios 2, 1.5, 3)
 */
export function pairedFigure(spec: FigureSpec, samples: readonly Sample[]): Figure {
  const ratios = samples.map((sample) => costRatio(sample, spec.direction));
  const ratio = median(ratios);
  return {
    suite: spec.suite,
    metric: spec.metric,
    value: median(samples.map((s) => s.value)),
    unit: spec.unit,
    baseline: { label: spec.baselineLabel, value: median(samples.map((s) => s.baseline)) },
    ratio,
    spread: { min: Math.min(...ratios), max: Math.max(...ratios) },
    rounds: samples.length,
    ...(spec.goal === undefined ? {} : { goal: spec.goal, met: ratio <= spec.goal }),
    ...(spec.details ? { details: spec.details } : {}),
  };
}

/**
 * Runs `work` in a tight loop for about `ms` milliseconds and returns how many calls fit: first warms the JIT up on
 * the hot path, then tells {@link nsPerCall} how many calls make a round of about that length.
 */
export function callsIn(work: () => void, ms: number): number {
  const until = performance.now() + ms;
  let calls = 0;
  while (performance.now() < until) {
    work();
    calls++;
  }
  return Math.max(1, calls);
}

/** Calls `work` `calls` times and returns the mean time of one call, in nanoseconds. */
export function nsPerCall(work: () => void, calls: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) work();
  return Number(process.hrtime.bigint() - start) / calls;
}
