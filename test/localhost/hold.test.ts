/**
 * The hold of synchronous contexts through `npm start`'s host, end to end: the webhook answers `held`, the host's
 * own Queue trigger runs `verifyHeld` against the Dataverse double after the delay, and the event is published (or the
 * job rolledBack). And the hold survives the process being killed hard while an event is held.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataverseDouble } from '../doubles/dataverse.js';
import { dataContractJson, entity, kv, rawContext, reference, typed } from '../helpers/contexts.js';
import { startContactDouble } from '../helpers/heldContexts.js';
import { answers, type RunningHost, startLocalHost } from '../helpers/localHost.js';

let dataverse: DataverseDouble;

beforeAll(async () => {
  dataverse = await startContactDouble();
});
afterAll(() => dataverse.stop());

function createContext(id: string, mode: 0 | 1, message: 'Create' | 'Delete' = 'Create'): Buffer {
  return Buffer.from(
    dataContractJson(
      rawContext({
        MessageName: message,
        Mode: mode,
        PrimaryEntityId: id,
        OperationId: randomUUID(),
        OperationCreatedOn: `/Date(${Date.now()})/`,
        InputParameters: kv({
          Target:
            message === 'Delete'
              ? reference('contact', id)
              : typed('Entity', entity('contact', id, { fullname: 'Ada' })),
        }),
      }),
    ),
  );
}

async function postContext(
  host: RunningHost,
  body: Buffer,
): Promise<{ jobId: string; eventId: string; status: string }> {
  const answer = await host.request('/api/dataverse/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array(body),
  });
  expect(answer.status).toBe(200);
  return (await answer.json()) as { jobId: string; eventId: string; status: string };
}

async function jobStatus(host: RunningHost, jobId: string): Promise<string | undefined> {
  const answer = await host.request(`/api/jobs/${jobId}`);
  return answer.status === 200 ? ((await answer.json()) as { status: string }).status : undefined;
}

async function publishedIds(host: RunningHost): Promise<string[]> {
  const answer = await host.request('/admin/events');
  return ((await answer.json()) as { value: Array<{ id: string }> }).value.map((event) => event.id);
}

describe('npm start holds synchronous contexts and verifies them on its Queue trigger', () => {
  it('publishes the one whose row appears, rolls back the one whose row never does, leaves async alone', async () => {
    const host = await startLocalHost({
      DATAVERSE_URL: dataverse.url,
      BRIDGE_VERIFY_DELAY_SECONDS: '1',
      BRIDGE_VERIFY_WINDOW_SECONDS: '3',
    });
    try {
      await expect
        .poll(() => host.output(), { timeout: 10_000 })
        .toMatch(/Queue: +verifyHeld polls queue "bridge-verify"/);
      const committed = randomUUID();
      const rolledBack = randomUUID();
      const kept = await postContext(host, createContext(committed, 0));
      const phantom = await postContext(host, createContext(rolledBack, 0));
      const asynchronous = await postContext(host, createContext(randomUUID(), 1));
      expect([kept.status, phantom.status, asynchronous.status]).toEqual(['held', 'held', 'published']);
      dataverse.seedRows('contact', [{ contactid: committed, fullname: 'Ada' }]);

      await expect.poll(() => jobStatus(host, kept.jobId), { timeout: 60_000, interval: 250 }).toBe('published');
      await expect.poll(() => jobStatus(host, phantom.jobId), { timeout: 60_000, interval: 250 }).toBe('rolledBack');
      const events = await publishedIds(host);
      expect(events).toContain(kept.eventId);
      expect(events).toContain(asynchronous.eventId);
      expect(events).not.toContain(phantom.eventId);
      const listed = await host.request('/api/jobs?status=rolledBack');
      expect(((await listed.json()) as { value: Array<{ id: string }> }).value.map((job) => job.id)).toContain(
        phantom.jobId,
      );
    } finally {
      await host.stop();
    }
  }, 120_000);

  it('a row created and deleted before the checks: both published, the Create once the Delete is projected', async () => {
    const host = await startLocalHost({
      DATAVERSE_URL: dataverse.url,
      BRIDGE_VERIFY_DELAY_SECONDS: '1',
      BRIDGE_VERIFY_WINDOW_SECONDS: '60',
    });
    try {
      // Dataverse never shows this row to a check: it was gone again within the second.
      const id = randomUUID();
      const created = await postContext(host, createContext(id, 0));
      const deleted = await postContext(host, createContext(id, 0, 'Delete'));
      expect([created.status, deleted.status]).toEqual(['held', 'held']);
      await expect.poll(() => jobStatus(host, deleted.jobId), { timeout: 30_000, interval: 250 }).toBe('published');
      await expect.poll(() => jobStatus(host, created.jobId), { timeout: 30_000, interval: 250 }).toBe('published');
      expect(await publishedIds(host)).toEqual(expect.arrayContaining([created.eventId, deleted.eventId]));
      expect(host.output()).toMatch(new RegExp(`Job ${created.jobId} verified: the contact row is gone, deleted at`));
    } finally {
      await host.stop();
    }
  }, 120_000);

  it('the process killed (SIGKILL) while an event is held: verified and published after the restart', async () => {
    const storage = await mkdtemp(join(tmpdir(), 'hold-'));
    const settings = {
      DATAVERSE_URL: dataverse.url,
      BRIDGE_VERIFY_DELAY_SECONDS: '5',
      BRIDGE_VERIFY_WINDOW_SECONDS: '300',
    };
    try {
      const id = randomUUID();
      const first = await startLocalHost(settings, ['--persist', storage]);
      let held: { jobId: string; eventId: string; status: string };
      try {
        held = await postContext(first, createContext(id, 0));
        expect(held.status).toBe('held');
        dataverse.seedRows('contact', [{ contactid: id, fullname: 'Ada' }]);
      } finally {
        expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
      }
      // Azurite saves its stores and exits on its own once its parent is gone.
      const tables = /tables (http:\/\/127\.0\.0\.1:\d+)/.exec(first.output())?.[1];
      await expect.poll(() => answers(`${tables}/devstoreaccount1/Tables`), { timeout: 30_000 }).toBe(false);
      // The check had not run: the event was never published before the kill.
      expect(first.output()).not.toContain(`Job ${held.jobId}: published`);

      const second = await startLocalHost(settings, ['--persist', storage]);
      try {
        await expect.poll(() => jobStatus(second, held.jobId), { timeout: 60_000, interval: 250 }).toBe('published');
        expect(await publishedIds(second)).toEqual([held.eventId]);
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      await rm(storage, { recursive: true, force: true });
    }
  }, 150_000);
});
