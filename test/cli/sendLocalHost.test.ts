import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, type RunningHost, startLocalHost } from '../helpers/localHost.js';

const CLI = join(REPO_ROOT, 'dist', 'tools', 'cli', 'main.js');
const SAMPLE = 'samples/contexts/mscontactcenter-webhook-update-msdyn_agentstatus.json';

let host: RunningHost;
let dir: string;
let settings: string;

beforeAll(async () => {
  host = await startLocalHost();
  dir = await mkdtemp(join(tmpdir(), 'send-settings-'));
  // A settings file like the one `npm start` read: the same BRIDGE_LOCAL_KEY.
  settings = join(dir, 'local.settings.json');
  await writeFile(settings, JSON.stringify({ IsEncrypted: false, Values: { BRIDGE_LOCAL_KEY: host.key } }));
});
afterAll(async () => {
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the built CLI with no BRIDGE_LOCAL_KEY in its environment. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { BRIDGE_LOCAL_KEY: _ignored, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('dataverse-bridge send against the local host', () => {
  it('reads BRIDGE_LOCAL_KEY from the settings file as npm start does, when no --key is given', async () => {
    const sent = await cli(['send', SAMPLE, '--to', host.url, '--settings', settings]);
    expect(sent.stderr).toContain('→ 200 published');
    expect(sent.code).toBe(0);
    // Without it (a settings file with no key), the host answers 401 and the CLI says so.
    const empty = join(dir, 'empty.settings.json');
    await writeFile(empty, JSON.stringify({ IsEncrypted: false, Values: {} }));
    const refused = await cli(['send', SAMPLE, '--to', host.url, '--settings', empty]);
    expect(refused.stderr).toContain('401');
    expect(refused.code).toBe(1);
  });

  it('shows each queued message outcome, and exits 1 when one was rejected', async () => {
    const file = 'samples/contexts/albxrm-update-new_customactivity-setstate-parent.json';
    const first = await cli(['send', file, '--queue', '--to', host.url, '--key', host.key]);
    expect(first.stderr).toMatch(/→ 202 published \(job [0-9a-f]{32}\)/);
    expect(first.code).toBe(0);
    const again = await cli(['send', file, '--queue', '--to', host.url, '--key', host.key]);
    expect(again.stderr).toMatch(/→ 202 duplicate \(job [0-9a-f]{32}\)/);
    expect(again.code).toBe(0);
    const bad = await cli(['send', 'samples/bad', '--queue', '--to', host.url, '--key', host.key]);
    expect(bad.stderr).toContain('→ 202 rejected NotAContext:');
    expect(bad.stdout).toContain('sent 1, accepted 0, failed 1');
    expect(bad.code).toBe(1);
  });

  it('--fresh gives each context new operation and correlation ids, so a re-send is a new event', async () => {
    const file = 'samples/contexts/msdocs-usewebhooks-update-contact.json';
    const first = await cli(['send', file, '--to', host.url, '--key', host.key]);
    expect(first.code).toBe(0);
    const again = await cli(['send', file, '--to', host.url, '--key', host.key]);
    expect(again.stderr).toContain('→ 200 duplicate');
    const fresh = await cli(['send', file, '--fresh', '--to', host.url, '--key', host.key]);
    expect(fresh.stderr).toContain('→ 200 published');
    const freshQueue = await cli(['send', file, '--fresh', '--queue', '--to', host.url, '--key', host.key]);
    expect(freshQueue.stderr).toContain('→ 202 published');

    const events = (await (await host.request('/admin/events')).json()) as {
      value: { data: { operationId: string; correlationId: string; primaryEntityId: string } }[];
    };
    const contact = events.value.filter((e) => e.data.primaryEntityId === '6d81597f-0f9f-e711-8122-000d3aa2331c');
    expect(contact).toHaveLength(3);
    expect(new Set(contact.map((e) => e.data.operationId)).size).toBe(3);
    expect(new Set(contact.map((e) => e.data.correlationId)).size).toBe(3);
  });
});
