import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/localHost.js';

// The layering rules are Biome noRestrictedImports overrides in biome.json, which `npm test` runs over the repository.
// Here the repository's biome.json lints probe files in a scratch copy of the layout, so a rule that is dropped or
// mistyped in biome.json fails this test instead of silently allowing the import.

const PROBES: Record<string, string> = {
  'functions/usesFunctions.ts': "import { app } from '@azure/functions';\nexport const x = app;\n",
  'functions/usesTools.ts': "import { runSend } from '../tools/cli/send.js';\nexport const x = runSend;\n",
  'shared/pipeline/usesFunctions.ts': "import { app } from '@azure/functions';\nexport const x = app;\n",
  'shared/store/usesTools.ts':
    "import { startAzurite } from '../../tools/localhost/azurite.js';\nexport const x = startAzurite;\n",
  'shared/changes/usesAdapter.ts':
    "import { TableChangeStore } from '../store/tableChangeStore.js';\nexport const x = TableChangeStore;\n",
  'shared/subscriptions/usesRoot.ts': "export const x = () => import('../runtime.js');\n",
  'shared/wiring.ts': "export const x = () => import('./store/connect.js');\n",
  'shared/connector/usesPort.ts': "import type { JobStore } from '../pipeline/jobs.js';\nexport type X = JobStore;\n",
  'tools/cli/usesEverything.ts':
    "import { app } from '@azure/functions';\nimport { getStorage } from '../../shared/runtime.js';\nexport const x = [app, getStorage];\n",
};

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string };
}

let root: string;
let byFile: Map<string, string[]>;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'layering-'));
  copyFileSync(join(REPO_ROOT, 'biome.json'), join(root, 'biome.json'));
  for (const [path, text] of Object.entries(PROBES)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const biome = join(REPO_ROOT, 'node_modules', '.bin', 'biome');
  const run = spawnSync(biome, ['lint', '--vcs-enabled=false', '--reporter=json', '--max-diagnostics=100', '.'], {
    cwd: root,
    encoding: 'utf8',
  });
  const report = JSON.parse(run.stdout) as { diagnostics: Diagnostic[] };
  byFile = new Map();
  for (const diagnostic of report.diagnostics) {
    if (diagnostic.category !== 'lint/style/noRestrictedImports') continue;
    const path = diagnostic.location.path.replaceAll('\\', '/');
    byFile.set(path, [...(byFile.get(path) ?? []), diagnostic.message]);
  }
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('layering rules (biome.json noRestrictedImports)', () => {
  it('refuses dev tooling (tools/) in runtime code, functions/ and shared/ alike', () => {
    expect(byFile.get('functions/usesTools.ts')).toEqual([expect.stringContaining('must not import dev tooling')]);
    expect(byFile.get('shared/store/usesTools.ts')).toEqual([expect.stringContaining('must not import dev tooling')]);
  });

  it('refuses @azure/functions under shared/, allows it in functions/', () => {
    expect(byFile.get('shared/pipeline/usesFunctions.ts')).toEqual([
      expect.stringContaining('Only functions/ may import @azure/functions'),
    ]);
    expect(byFile.get('functions/usesFunctions.ts')).toBeUndefined();
  });

  it('refuses adapters and the composition root in domain modules, static or dynamic imports', () => {
    expect(byFile.get('shared/changes/usesAdapter.ts')).toEqual([expect.stringContaining('never adapters')]);
    expect(byFile.get('shared/subscriptions/usesRoot.ts')).toEqual([expect.stringContaining('never adapters')]);
  });

  it('allows the composition root its adapters, domain modules their ports, and tooling anything', () => {
    expect(byFile.get('shared/wiring.ts')).toBeUndefined();
    expect(byFile.get('shared/connector/usesPort.ts')).toBeUndefined();
    expect(byFile.get('tools/cli/usesEverything.ts')).toBeUndefined();
  });
});
