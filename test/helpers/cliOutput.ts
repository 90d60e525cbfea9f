import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A `Writable` for the CLI's `run…` functions that keeps what they print. */
export function capture() {
  const chunks: string[] = [];
  return { write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

/** Runs `run` with a fresh temporary folder, removed afterwards whatever happens. */
export async function inTempDir(run: (dir: string) => Promise<void>, prefix = 'cli-'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
