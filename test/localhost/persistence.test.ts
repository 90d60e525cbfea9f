import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answers, type RunningHost, startLocalHost } from '../helpers/localHost.js';
import { distinctContexts } from '../helpers/pipeline.js';

let storage: string;

beforeAll(async () => {
  storage = await mkdtemp(join(tmpdir(), 'persist-'));
});
afterAll(async () => {
  await rm(storage, { recursive: true, force: true });
});

function postContext(host: RunningHost, body: Buffer): Promise<Response> {
  return host.request('/api/dataverse/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array(body),
  });
}

/**
 * Sends a context, stops the host with `signal` right after the 200, starts it again on the same storage folder and
 * checks that the job is there and the same context is now a duplicate.
 */
async function survives(signal: NodeJS.Signals, seed: string): Promise<void> {
  const [context] = distinctContexts(1, seed) as [Buffer];
  const first = await startLocalHost({}, ['--persist', storage]);
  let published: { jobId: string; eventId: string; status: string };
  try {
    const answer = await postContext(first, context);
    published = (await answer.json()) as typeof published;
    expect(answer.status).toBe(200);
    expect(published.status).toBe('published');
  } finally {
    const ended = await first.kill(signal);
    if (signal === 'SIGKILL') expect(ended.signal).toBe('SIGKILL');
    else expect(ended.code).toBe(0);
  }
  expect(first.output()).toContain(`data in ${storage}`);
  // No Azurite is left behind: it has closed its stores and exited (after a hard kill of the host, on its own).
  const tables = /tables (http:\/\/127\.0\.0\.1:\d+)/.exec(first.output())?.[1];
  await expect.poll(() => answers(`${tables}/devstoreaccount1/Tables`), { timeout: 30_000 }).toBe(false);

  const second = await startLocalHost({}, ['--persist', storage]);
  try {
    const job = await second.request(`/api/jobs/${published.jobId}`);
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ id: published.jobId, status: 'published', eventId: published.eventId });
    const again = await postContext(second, context);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ...published, status: 'duplicate' });
  } finally {
    expect(await second.stop()).toBe(0);
  }
}

describe('npm start --persist keeps every acknowledged write across a stop', () => {
  it('on SIGTERM right after the 200', () => survives('SIGTERM', 'persist-sigterm'), 60_000);
  it('on SIGHUP (the terminal closed)', () => survives('SIGHUP', 'persist-sighup'), 60_000);
  it('on SIGINT (Ctrl+C)', () => survives('SIGINT', 'persist-sigint'), 60_000);
  it(
    'when the host is killed hard (SIGKILL): Azurite saves and exits on its own',
    () => survives('SIGKILL', 'persist-sigkill'),
    60_000,
  );
});
