import { type RunningHost, startLocalHost } from '../helpers/localHost.js';

/** The local host as the soak drives it: one process at a time, which {@link CrashingHost.crash} kills and restarts. */
export interface CrashingHost {
  /** fetch() against the process running now, with the key. Rejects (a connection error) while it is down. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Kills the process with SIGKILL (nothing flushed, in-flight requests cut) and starts a new one with the same
   * settings, on the same storage, on a new port; resolves once it answers. Crashes asked for while one is under way
   * wait for it.
   */
  crash(): Promise<void>;
  readonly crashes: number;
  /** Seconds during which no process was serving, summed over the crashes. */
  readonly downSeconds: number;
  /** The output of every process so far, in order, each crash marked. */
  output(): string;
  /** Stops the process running now (SIGINT). */
  stop(): Promise<void>;
}

/** Starts the local host with `values` as its settings (see {@link startLocalHost}). */
export async function startCrashingHost(values: Record<string, string>): Promise<CrashingHost> {
  let current: RunningHost = await startLocalHost(values);
  const outputs: string[] = [];
  let crashes = 0;
  let downMs = 0;
  let crashing: Promise<void> = Promise.resolve();

  async function restart(): Promise<void> {
    const down = performance.now();
    await current.kill();
    crashes++;
    outputs.push(current.output(), `--- SIGKILL (crash ${crashes}) ---\n`);
    // Requests go to the dead process's port until the new one is up: they fail to connect, as they would.
    for (let attempt = 1; ; attempt++) {
      try {
        current = await startLocalHost(values);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    downMs += performance.now() - down;
  }

  return {
    request: (path, init) => current.request(path, init),
    crash() {
      crashing = crashing.then(restart);
      return crashing;
    },
    get crashes() {
      return crashes;
    },
    get downSeconds() {
      return downMs / 1000;
    },
    output: () => [...outputs, current.output()].join(''),
    async stop() {
      await crashing.catch(() => {});
      await current.stop();
    },
  };
}
