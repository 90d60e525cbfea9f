import { availableParallelism } from 'node:os';
import type { Figure } from './measure.js';

/** The machine-readable report (`npm run bench -- --json`). */
export interface BenchReport {
  node: string;
  platform: string;
  cpus: number;
  /** Rounds asked for; each figure says how many it was measured over. */
  rounds: number;
  suites: string[];
  figures: Figure[];
}

/** The report for figures measured on this machine. */
export function benchReport(figures: Figure[], rounds: number, suites: string[]): BenchReport {
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: availableParallelism(),
    rounds,
    suites,
    figures,
  };
}

/**
 * The report as an aligned table, one line per figure: ours and the baseline (medians over the rounds), the median
 * ratio with its range over the rounds in brackets, and the goal (marked MISSED when the ratio is over it).
 */
export function formatTable(figures: readonly Figure[]): string[] {
  const rows = figures.map((f) => [
    f.suite,
    f.metric,
    `${formatNumber(f.value)} ${f.unit}`,
    f.baseline ? `${formatNumber(f.baseline.value)} ${f.unit} (${f.baseline.label})` : '',
    formatRatio(f),
    f.goal === undefined ? '' : `≤ ${f.goal}${f.met === false ? '  MISSED' : ''}`,
  ]);
  const header = ['suite', 'metric', 'ours', 'baseline', 'ratio (range)', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd(),
  );
}

/** `1.69 (1.52–1.88)`; the range is left out when every round gave the same ratio. */
export function formatRatio(figure: Figure): string {
  if (figure.ratio === undefined) return '';
  const ratio = figure.ratio.toFixed(2);
  const { spread } = figure;
  if (!spread) return ratio;
  const [min, max] = [spread.min.toFixed(2), spread.max.toFixed(2)];
  return min === max ? ratio : `${ratio} (${min}–${max})`;
}

/** Whole numbers with thousands separators from 100 up, two decimals below. */
export function formatNumber(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}
