import { Cron } from 'croner';
import { invocationContext } from './localFanOut.js';
import type { Registration } from './registrations.js';

/** What the Functions host passes a timer function (`Timer` of `@azure/functions`). */
export function timerInput(isPastDue = false): Record<string, unknown> {
  return { isPastDue, schedule: { adjustForDST: true } };
}

/**
 * A timer trigger's schedule with its `%SETTING%` placeholders resolved from the environment, as the Functions host
 * resolves them; `undefined` (with the reason) when a setting is missing.
 */
export function resolveSchedule(
  schedule: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { schedule: string } | { missing: string } {
  let missing: string | undefined;
  const resolved = schedule.replace(/%(\w+)%/g, (_, name: string) => {
    const value = env[name]?.trim();
    if (!value) missing ??= name;
    return value ?? '';
  });
  return missing === undefined ? { schedule: resolved } : { missing };
}

/**
 * Runs the app's timer-triggered functions on their NCRONTAB schedules (six fields, seconds first, which croner reads
 * the same way), one invocation at a time per function as the Functions host does (a tick that finds the previous
 * run still going is skipped). Each run's failure is logged, not thrown. Stop them with `stop()`.
 *
 * @example
 * const timers = startTimers(registrations, console.log);
 * timers.schedules; // [{ name: 'reconcileChanges', schedule: '0 *\/15 * * * *', next: Date }]
 * timers.stop();
 */
export function startTimers(
  registrations: readonly Registration[],
  log: (line: string) => void,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { schedules: Array<{ name: string; schedule: string; next: Date | null }>; stop(): void } {
  const jobs: Cron[] = [];
  const schedules: Array<{ name: string; schedule: string; next: Date | null }> = [];
  for (const registration of registrations.filter((r) => r.trigger.type === 'timerTrigger')) {
    const resolved = resolveSchedule(String(registration.trigger.schedule ?? ''), env);
    if ('missing' in resolved) {
      log(`  ${registration.name}: not scheduled: the setting ${resolved.missing} its schedule names is not set.`);
      continue;
    }
    let job: Cron;
    try {
      job = new Cron(resolved.schedule, { protect: true, unref: true }, async () => {
        try {
          await registration.handler(timerInput(), invocationContext(registration, log));
        } catch (error) {
          log(`  [${registration.name}] error: the scheduled run failed: ${(error as Error).message}`);
        }
      });
    } catch (error) {
      log(
        `  ${registration.name}: not scheduled: "${resolved.schedule}" is not a schedule (${(error as Error).message}).`,
      );
      continue;
    }
    jobs.push(job);
    schedules.push({ name: registration.name, schedule: resolved.schedule, next: job.nextRun() });
  }
  return {
    schedules,
    stop() {
      for (const job of jobs) job.stop();
    },
  };
}
