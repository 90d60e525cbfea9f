import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_WITHOUT_TOPIC, REPO_ROOT } from '../helpers/localHost.js';
import { MissingBuildError, requireBuild, staleSources } from './build.js';
import { appSettings, BARE_APP, type LoadSample, loadInFreshProcess } from './coldStart.js';

// These load dist/: `npm test` builds first.

describe('loadInFreshProcess', () => {
  let bare: LoadSample;
  beforeAll(async () => {
    bare = await loadInFreshProcess(BARE_APP, { packages: true });
  });

  it('loads the bare app the way the Functions host does: it registers exactly one function', () => {
    expect(bare.functions).toEqual(['hello']);
    expect(bare.packages).toContain('@azure/functions');
    expect(bare.loadMs).toBeGreaterThan(0);
    expect(bare.processMs).toBeGreaterThan(bare.loadMs);
    expect(bare.heapUsed).toBeGreaterThan(0);
    expect(bare.rss).toBeGreaterThan(bare.heapUsed);
  });

  it("loads our app with the sample settings: every function but the topic's, which needs a topic set", async () => {
    const ours = await loadInFreshProcess(REPO_ROOT, { packages: true });
    expect(ours.functions.sort()).toEqual(FUNCTIONS_WITHOUT_TOPIC);
    // Lazy loading: no npm package at start-up that a bare @azure/functions app does not load too; the SDKs, p-limit,
    // ajv and the rest load on the first invocation that needs them.
    expect(ours.packages).toEqual(bare.packages);
  });
});

describe('appSettings', () => {
  it('passes the non-empty sample settings, enough for the start-up validation', () => {
    const settings = appSettings();
    expect(settings).toMatchObject({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      DATAVERSE_QUEUE_NAME: 'dataverse',
    });
    expect(settings).not.toHaveProperty('EVENTGRID_TOPIC_ENDPOINT');
    expect(Object.values(settings)).not.toContain('');
  });
});

describe('requireBuild and staleSources', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
    root = undefined;
  });

  it('fails with what to run when dist/ is missing', async () => {
    root = await mkdtemp(join(tmpdir(), 'bench-build-'));
    expect(() => requireBuild(root)).toThrow(MissingBuildError);
    expect(() => requireBuild(root)).toThrow('Run "npm run build" first');
    expect(() => requireBuild(REPO_ROOT)).not.toThrow();
  });

  it('lists the sources whose compiled file is missing or older', async () => {
    root = await mkdtemp(join(tmpdir(), 'bench-stale-'));
    const files = ['functions/fresh.ts', 'dist/functions/fresh.js', 'shared/old.ts', 'dist/shared/old.js'];
    for (const file of [...files, 'shared/new.ts']) {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await writeFile(join(root, file), '');
    }
    const [earlier, later] = [new Date('2025-01-01T00:00:00Z'), new Date('2025-01-02T00:00:00Z')];
    await utimes(join(root, 'functions/fresh.ts'), earlier, earlier);
    await utimes(join(root, 'dist/functions/fresh.js'), later, later);
    await utimes(join(root, 'dist/shared/old.js'), earlier, earlier);
    await utimes(join(root, 'shared/old.ts'), later, later);
    expect(staleSources(root).sort()).toEqual(['shared/new.ts', 'shared/old.ts']);
  });
});
