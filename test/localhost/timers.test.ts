import { describe, expect, it } from 'vitest';
import type { Registration } from '../../tools/localhost/registrations.js';
import { resolveSchedule, startTimers } from '../../tools/localhost/timers.js';

function timer(schedule: string, handler: Registration['handler']): Registration {
  return { name: 'tick', trigger: { type: 'timerTrigger', name: 'timer', schedule }, bindings: {}, handler };
}

describe('local host timers', () => {
  it('resolves %SETTING% placeholders the way the Functions host does, naming a missing one', () => {
    expect(resolveSchedule('%S%', { S: '0 */5 * * * *' })).toEqual({ schedule: '0 */5 * * * *' });
    expect(resolveSchedule('0 0 * * * *', {})).toEqual({ schedule: '0 0 * * * *' });
    expect(resolveSchedule('%S%', { S: ' ' })).toEqual({ missing: 'S' });
  });

  it('runs a timer function on its NCRONTAB schedule with a Timer, and stops', async () => {
    const inputs: unknown[] = [];
    const timers = startTimers([timer('%EVERY%', (input) => void inputs.push(input))], () => {}, {
      EVERY: '* * * * * *',
    });
    expect(timers.schedules).toEqual([{ name: 'tick', schedule: '* * * * * *', next: expect.any(Date) }]);
    await expect.poll(() => inputs.length, { timeout: 3_000 }).toBeGreaterThan(0);
    timers.stop();
    expect(inputs[0]).toEqual({ isPastDue: false, schedule: { adjustForDST: true } });
  });

  it('logs, and does not schedule, a timer whose setting is missing or whose schedule is malformed; a failed run is logged', async () => {
    const lines: string[] = [];
    const timers = startTimers(
      [
        timer('%NOPE%', () => {}),
        { ...timer('not a schedule', () => {}), name: 'bad' },
        {
          ...timer('* * * * * *', () => {
            throw new Error('boom');
          }),
          name: 'failing',
        },
      ],
      (line) => lines.push(line),
      {},
    );
    expect(timers.schedules.map((s) => s.name)).toEqual(['failing']);
    expect(lines[0]).toContain('tick: not scheduled: the setting NOPE');
    expect(lines[1]).toContain('bad: not scheduled: "not a schedule" is not a schedule');
    await expect
      .poll(() => lines.join('\n'), { timeout: 3_000 })
      .toContain('[failing] error: the scheduled run failed: boom');
    timers.stop();
  });
});
