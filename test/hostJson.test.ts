import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryPoints } from '../tools/localhost/registrations.js';
import { REPO_ROOT } from './helpers/localHost.js';

const host = JSON.parse(readFileSync(join(REPO_ROOT, 'host.json'), 'utf8'));

/** "hh:mm:ss" → seconds. */
function seconds(span: string): number {
  const [h, m, s] = span.split(':').map(Number) as [number, number, number];
  return h * 3600 + m * 60 + s;
}

describe('the app as the real Functions host sees it', () => {
  it('pins the extension bundle to [4.*, 5.0.0)', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('sets the Service Bus batch options deliberately', () => {
    const serviceBus = host.extensions.serviceBus;
    // Batches of ~10 KB contexts that fill about one 1 MB Event Grid request.
    expect(serviceBus.maxMessageBatchSize).toBe(100);
    expect(serviceBus.autoCompleteMessages).toBe(true);
    // The message lock must outlive a job's lease (BRIDGE_LEASE_SECONDS, default 300 s).
    expect(seconds(serviceBus.maxAutoLockRenewalDuration)).toBeGreaterThan(300);
  });

  it('keeps the routes under /api, as the local host serves them', () => {
    expect(host.extensions.http.routePrefix).toBe('api');
  });

  it('finds one compiled entry point per function file through package.json main', async () => {
    const compiled = (await entryPoints(REPO_ROOT)).map((file) => basename(file));
    const sources = readdirSync(join(REPO_ROOT, 'functions'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.replace(/\.ts$/, '.js'))
      .sort();
    expect(sources).toContain('projectChanges.js');
    expect(compiled.sort()).toEqual(sources);
  });
});
