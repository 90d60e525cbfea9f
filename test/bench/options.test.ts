import { describe, expect, it } from 'vitest';
import { benchOptions, DEFAULT_ROUNDS, USAGE, UsageError } from './options.js';

describe('benchOptions', () => {
  it('runs every suite, as a table, over the default rounds when given nothing', () => {
    expect(benchOptions([])).toEqual({
      help: false,
      json: false,
      rounds: DEFAULT_ROUNDS,
      suites: ['parse', 'pipeline', 'projection', 'latency', 'coldStart', 'size'],
    });
  });

  it('reads --json, --rounds and --only, running the suites in their own order', () => {
    expect(benchOptions(['--json', '--rounds', '3', '--only', 'size, coldStart'])).toEqual({
      help: false,
      json: true,
      rounds: 3,
      suites: ['coldStart', 'size'],
    });
  });

  it('reads --help and -h', () => {
    expect(benchOptions(['--help']).help).toBe(true);
    expect(benchOptions(['-h']).help).toBe(true);
  });

  it.each([['0'], ['-2'], ['1.5'], ['many']])('refuses --rounds %s', (rounds) => {
    expect(() => benchOptions([`--rounds=${rounds}`])).toThrow(UsageError);
    expect(() => benchOptions([`--rounds=${rounds}`])).toThrow(
      `--rounds must be a whole number from 1 up, got "${rounds}"`,
    );
  });

  it('refuses an unknown suite, naming the ones there are', () => {
    expect(() => benchOptions(['--only', 'parse,coldstart'])).toThrow(
      '--only takes parse, pipeline, projection, latency, coldStart, size; got "parse,coldstart"',
    );
    expect(() => benchOptions(['--only', ','])).toThrow(UsageError);
  });

  it('refuses an unknown option', () => {
    expect(() => benchOptions(['--round', '3'])).toThrow(UsageError);
  });
});

describe('USAGE', () => {
  it('documents every option and suite', () => {
    for (const word of [
      '--json',
      '--rounds',
      '--only',
      '--help',
      'parse',
      'pipeline',
      'projection',
      'coldStart',
      'size',
    ]) {
      expect(USAGE).toContain(word);
    }
    expect(USAGE).toContain(`default ${DEFAULT_ROUNDS}`);
  });
});
