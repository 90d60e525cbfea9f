import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
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

  it('finds, through package.json main, the one compiled entry file, which bundles every function file', async () => {
    const compiled = await entryPoints(REPO_ROOT);
    expect(compiled.map((file) => relative(REPO_ROOT, file).split(sep).join('/'))).toEqual(['dist/app/index.js']);
    expect(existsSync(compiled[0] as string)).toBe(true);
    const sources = readdirSync(join(REPO_ROOT, 'functions'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => `functions/${file}`)
      .sort();
    expect(sources).toContain('functions/projectChanges.ts');
    // esbuild's metafile of that build: which sources went into the entry file.
    const metafile = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'app-meta.json'), 'utf8')) as {
      outputs: Record<string, { inputs: Record<string, unknown> }>;
    };
    const bundled = Object.keys(metafile.outputs['dist/app/index.js']?.inputs ?? {}).filter((input) =>
      input.startsWith('functions/'),
    );
    expect(bundled.sort()).toEqual(sources);
  });
});
