import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS_WITHOUT_TOPIC, REPO_ROOT } from '../helpers/localHost.js';
import { APP_PACKAGE, MissingBuildError, requireBuild, staleSources } from './build.js';
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

  it("loads our bundle with the sample settings: every function but the topic's, which needs a topic set", async () => {
    const ours = await loadInFreshProcess(APP_PACKAGE, { packages: true });
    expect(ours.functions.sort()).toEqual(FUNCTIONS_WITHOUT_TOPIC);
    // The bundle carries @azure/functions and everything else: no package comes from a node_modules folder, where
    // the bare app loads the library from one.
    expect(ours.packages).toEqual([]);
    expect(bare.packages).toContain('@azure/functions');
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

  it('lists the sources changed since the bundle, and the shared/ ones whose compiled file is missing or older', async () => {
    root = await mkdtemp(join(tmpdir(), 'bench-stale-'));
    const files = [
      'functions/fresh.ts',
      'functions/late.ts',
      'shared/old.ts',
      'dist/shared/old.js',
      'shared/kept.ts',
      'dist/shared/kept.js',
      'shared/new.ts',
      'dist/app/package.json',
    ];
    for (const file of files) {
      await mkdir(dirname(join(root, file)), { recursive: true });
      await writeFile(join(root, file), '');
    }
    const at = (day: number) => new Date(`2025-01-0${day}T00:00:00Z`);
    const times: Record<string, Date> = {
      'functions/fresh.ts': at(1),
      'shared/kept.ts': at(1),
      'dist/shared/kept.js': at(2),
      'shared/old.ts': at(2),
      'dist/shared/old.js': at(1),
      'shared/new.ts': at(1),
      'dist/app/package.json': at(3),
      'functions/late.ts': at(4),
    };
    for (const [file, time] of Object.entries(times)) await utimes(join(root, file), time, time);
    // late: newer than the bundle; old: newer than its compiled file; new: never compiled.
    expect(staleSources(root).sort()).toEqual(['functions/late.ts', 'shared/new.ts', 'shared/old.ts']);
  });
});
