/** One figure of the benchmark report, always next to the baseline it is judged against. */
export interface Figure {
  suite: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: { label: string; value: number };
  /** value / baseline (for times and counts: lower is better). */
  ratio?: number;
  /** The ratio the project aims to stay under. */
  goal?: number;
}

/** Runs `work` repeatedly for about `ms` milliseconds per round and returns the median time of one call, in ns. */
export function timePerCall(work: () => void, { rounds = 7, ms = 300 } = {}): number {
  // Warm up so the JIT has compiled the hot path before we measure.
  const warmUntil = performance.now() + ms;
  let calls = 0;
  while (performance.now() < warmUntil) {
    work();
    calls++;
  }
  const perRound = Math.max(1, calls);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) work();
    samples.push(Number(process.hrtime.bigint() - start) / perRound);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

/** Prints figures as an aligned table. */
export function printTable(figures: Figure[], write: (line: string) => void): void {
  const rows = figures.map((f) => [
    f.suite,
    f.metric,
    `${format(f.value)} ${f.unit}`,
    f.baseline ? `${format(f.baseline.value)} ${f.unit} (${f.baseline.label})` : '',
    f.ratio === undefined ? '' : f.ratio.toFixed(2),
    f.goal === undefined ? '' : `≤ ${f.goal}${f.ratio !== undefined && f.ratio > f.goal ? '  MISSED' : ''}`,
  ]);
  const header = ['suite', 'metric', 'value', 'baseline', 'ratio', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  for (const row of [header, ...rows])
    write(
      row
        .map((cell, i) => cell.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}
