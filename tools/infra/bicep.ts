/**
 * Finds a Bicep CLI and compiles every Bicep file under infra/ to ARM JSON, linting each. Used by
 * `npm run infra:build` (tools/infra/buildBicep.ts) and by the template tests (test/infra/), so both compile the same
 * way. Dev tooling only: nothing here ships with the app.
 *
 * The CLI is looked for where people and machines have it, in this order: `BICEP_PATH`; `bicep` on the PATH; the copy
 * `az bicep install` puts in ~/.azure/bin; the copy azd downloads to ~/.azd/bin; and, where the .NET SDK exists, the
 * NuGet package `Azure.Bicep.CommandLine.<rid>` (a self-contained executable) restored into the git-ignored `.tools/`
 * folder, once, and reused after.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';

/** The Bicep CLI version restored from NuGet. A CLI found elsewhere is used at whatever version it is. */
export const BICEP_NUGET_VERSION = '0.49.2';

/** Where the compiled ARM templates go (git-ignored), relative to the repository root. */
export const INFRA_BUILD_DIR = '.infra-build';

/** Where the NuGet restore keeps its project and packages (git-ignored), relative to the repository root. */
export const TOOLS_DIR = '.tools';

/** Where a Bicep CLI was found. */
export type BicepSource = 'BICEP_PATH' | 'PATH' | 'az' | 'azd' | 'nuget';

/** A Bicep CLI that answered `--version`. */
export interface BicepCli {
  path: string;
  source: BicepSource;
  version: string;
}

/** What the finder found: a CLI, or why there is none (every place it looked). */
export type BicepLookup = { found: true; cli: BicepCli } | { found: false; reason: string };

/** A problem that stops the compile (a BICEP_PATH that is not a Bicep CLI, a failed NuGet restore). */
export class BicepToolError extends Error {
  override readonly name = 'BicepToolError';
}

export interface FindBicepOptions {
  /** The repository root (holds `.tools/`). */
  root: string;
  env?: NodeJS.ProcessEnv;
  /** Restore from NuGet when nothing else is found and `dotnet` exists (default true). */
  restore?: boolean;
  /** Progress lines (the NuGet restore takes a minute or so). */
  log?: (line: string) => void;
}

const EXE = process.platform === 'win32' ? '.exe' : '';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== 'win32') accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in the PATH's folders. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, `${name}${EXE}`);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** `Bicep CLI version 0.49.2 (b34271ac51)` → `0.49.2`; undefined when the file does not answer like a Bicep CLI. */
function bicepVersion(path: string): string | undefined {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return /Bicep CLI version (\d+\.\d+\.\d+)/.exec(result.stdout ?? '')?.[1];
}

/** The NuGet runtime identifier of this machine, as in `Azure.Bicep.CommandLine.<rid>`. */
export function runtimeIdentifier(platform: string = process.platform, arch: string = process.arch): string {
  const os = { linux: 'linux', darwin: 'osx', win32: 'win' }[platform];
  const cpu = { x64: 'x64', arm64: 'arm64' }[arch];
  if (os === undefined || cpu === undefined) {
    throw new BicepToolError(`NuGet has no Bicep CLI for ${platform}-${arch}; set BICEP_PATH to a Bicep CLI.`);
  }
  return `${os}-${cpu}`;
}

/** The executable inside the restored NuGet package (NuGet lower-cases package folder names). */
function nugetBicepPath(root: string): string {
  const id = `azure.bicep.commandline.${runtimeIdentifier()}`;
  return join(root, TOOLS_DIR, 'nuget', id, BICEP_NUGET_VERSION, 'tools', `bicep${EXE}`);
}

/**
 * Restores `Azure.Bicep.CommandLine.<rid>` from NuGet with a throw-away project (PackageDownload: the package only,
 * no build), into `.tools/nuget`. NuGet packages do not keep the executable bit, hence the chmod.
 */
async function restoreFromNuGet(root: string, dotnet: string, log: (line: string) => void): Promise<string> {
  const executable = nugetBicepPath(root);
  const projectDir = join(root, TOOLS_DIR, 'bicep');
  const sdk = spawnSync(dotnet, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  const major = /^(\d+)\./.exec(sdk.stdout ?? '')?.[1];
  if (sdk.status !== 0 || major === undefined) {
    throw new BicepToolError(`"${dotnet} --version" failed; install the .NET SDK or set BICEP_PATH.\n${sdk.stderr}`);
  }
  await mkdir(projectDir, { recursive: true });
  const project = [
    '<!-- Generated by tools/infra/bicep.ts: restores the Bicep CLI from NuGet. Git-ignored. -->',
    '<Project Sdk="Microsoft.NET.Sdk">',
    `  <PropertyGroup><TargetFramework>net${major}.0</TargetFramework></PropertyGroup>`,
    '  <ItemGroup>',
    `    <PackageDownload Include="Azure.Bicep.CommandLine.${runtimeIdentifier()}" Version="[${BICEP_NUGET_VERSION}]" />`,
    '  </ItemGroup>',
    '</Project>',
    '',
  ].join('\n');
  const projectFile = join(projectDir, 'restore.csproj');
  await writeFile(projectFile, project);
  log(`Restoring Azure.Bicep.CommandLine.${runtimeIdentifier()} ${BICEP_NUGET_VERSION} from NuGet into ${TOOLS_DIR}/…`);
  const { code, output } = await run(dotnet, ['restore', projectFile, '--packages', join(root, TOOLS_DIR, 'nuget')], {
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_NOLOGO: '1',
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
  });
  if (code !== 0 || !existsSync(executable)) {
    throw new BicepToolError(`dotnet restore of the Bicep CLI failed (exit ${code}):\n${output}`);
  }
  if (process.platform !== 'win32') chmodSync(executable, 0o755);
  return executable;
}

/**
 * Looks for a Bicep CLI (see the module comment for the order) and checks it answers `--version`.
 *
 * @example
 * const lookup = await findBicep({ root: process.cwd() });
 * if (lookup.found) console.log(lookup.cli.source, lookup.cli.version);
 */
export async function findBicep(options: FindBicepOptions): Promise<BicepLookup> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  const checked = (path: string, source: BicepSource): BicepLookup | undefined => {
    const version = bicepVersion(path);
    return version === undefined ? undefined : { found: true, cli: { path, source, version } };
  };

  const explicit = env.BICEP_PATH?.trim();
  if (explicit) {
    const found = isExecutableFile(explicit) ? checked(explicit, 'BICEP_PATH') : undefined;
    if (found === undefined) {
      throw new BicepToolError(`BICEP_PATH=${explicit} is not an executable Bicep CLI (it must answer --version).`);
    }
    return found;
  }
  const candidates: Array<[string | undefined, BicepSource]> = [
    [onPath('bicep', env), 'PATH'],
    [join(home, '.azure', 'bin', `bicep${EXE}`), 'az'],
    ...azdCopies(join(home, '.azd', 'bin')).map((path): [string, BicepSource] => [path, 'azd']),
  ];
  for (const [path, source] of candidates) {
    const found = path !== undefined && isExecutableFile(path) ? checked(path, source) : undefined;
    if (found) return found;
  }
  const restored = nugetBicepPath(options.root);
  if (existsSync(restored)) {
    if (process.platform !== 'win32') chmodSync(restored, 0o755);
    const found = checked(restored, 'nuget');
    if (found) return found;
  }
  const dotnet = onPath('dotnet', env);
  if (dotnet !== undefined && options.restore !== false) {
    const found = checked(await restoreFromNuGet(options.root, dotnet, log), 'nuget');
    if (found) return found;
    throw new BicepToolError(`The Bicep CLI restored from NuGet (${restored}) does not answer --version.`);
  }
  return {
    found: false,
    reason:
      'no Bicep CLI: BICEP_PATH is not set, there is no bicep on the PATH, in ~/.azure/bin (az bicep install) or ' +
      `~/.azd/bin, and ${dotnet === undefined ? 'no dotnet to restore' : 'restoring is off for'} ` +
      `Azure.Bicep.CommandLine.${runtimeIdentifier()} ${BICEP_NUGET_VERSION} from NuGet`,
  };
}

/** azd keeps its Bicep download in ~/.azd/bin under a name starting with `bicep`. */
function azdCopies(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.startsWith('bicep'))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

function run(
  command: string,
  args: string[],
  extraEnv: Record<string, string> = {},
  cwd?: string,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...extraEnv };
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** One compiler or linter finding, as the CLI prints it: `<file>(<line>,<col>) : <Level> <code>: <message>`. */
export interface BicepDiagnostic {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning';
  code: string;
  message: string;
}

/** The diagnostics in a CLI's output (Info lines are not counted; anything else unparsed is kept as an error). */
export function parseDiagnostics(output: string, root: string): BicepDiagnostic[] {
  const diagnostics: BicepDiagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const match = /^(.+?)\((\d+),(\d+)\) : (Error|Warning|Info) ([\w-]+): (.*)$/.exec(line.trim());
    if (match === null || match[4] === 'Info') continue;
    diagnostics.push({
      file: relative(root, match[1] as string)
        .split(sep)
        .join('/'),
      line: Number(match[2]),
      column: Number(match[3]),
      level: match[4] as 'Error' | 'Warning',
      code: match[5] as string,
      message: match[6] as string,
    });
  }
  return diagnostics;
}

/** `infra/modules/roles.bicep(12,3) : Warning no-unused-params: …`, as the CLI prints it. */
export function formatDiagnostic(d: BicepDiagnostic): string {
  return `${d.file}(${d.line},${d.column}) : ${d.level} ${d.code}: ${d.message}`;
}

/** What `.infra-build/manifest.json` records: the inputs compiled, the CLI that compiled them, what it found. */
export interface InfraBuild {
  bicep: BicepCli;
  /** Each Bicep source (and bicepconfig.json) relative to the root, with its SHA-256. */
  inputs: Record<string, string>;
  /** Each Bicep file relative to the root → its ARM template relative to the root. */
  outputs: Record<string, string>;
  diagnostics: BicepDiagnostic[];
}

/** Every .bicep file under infra/, and bicepconfig.json, with the SHA-256 of each: what decides whether to rebuild. */
export function infraInputs(root: string): Record<string, string> {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.bicep') || entry.name === 'bicepconfig.json') files.push(path);
    }
  };
  walk(join(root, 'infra'));
  const inputs: Record<string, string> = {};
  for (const file of files.sort()) {
    inputs[relative(root, file).split(sep).join('/')] = createHash('sha256').update(readFileSync(file)).digest('hex');
  }
  return inputs;
}

/**
 * Compiles every Bicep file under infra/ to `.infra-build/<path>.json` (`bicep build`) and lints it (`bicep lint`),
 * and writes the manifest. One `--pattern` call each where the CLI has the option (a CLI start costs seconds), else
 * file by file. Diagnostics are collected, not thrown: the caller decides (both callers fail on any).
 */
export async function buildInfra(root: string, cli: BicepCli): Promise<InfraBuild> {
  const inputs = infraInputs(root);
  const sources = Object.keys(inputs).filter((file) => file.endsWith('.bicep'));
  const infra = join(root, 'infra');
  const outDir = join(root, INFRA_BUILD_DIR);
  const outputFor = (source: string) => join(outDir, source.replace(/^infra\//, '').replace(/\.bicep$/, '.json'));
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const steps: Array<[string, { code: number; output: string }]> = [];
  const build = await run(cli.path, ['build', '--pattern', '**/*.bicep', '--outdir', outDir], {}, infra);
  // CLIs older than --pattern (az and azd may have one) reject the option: compile file by file then.
  if (build.code !== 0 && /--pattern/.test(build.output) && parseDiagnostics(build.output, root).length === 0) {
    for (const source of sources) {
      await mkdir(dirname(outputFor(source)), { recursive: true });
      steps.push([
        `build ${source}`,
        await run(cli.path, ['build', join(root, source), '--outfile', outputFor(source)]),
      ]);
      steps.push([`lint ${source}`, await run(cli.path, ['lint', join(root, source)])]);
    }
  } else {
    steps.push(['build', build], ['lint', await run(cli.path, ['lint', '--pattern', '**/*.bicep'], {}, infra)]);
  }
  const found = new Map<string, BicepDiagnostic>();
  for (const [step, result] of steps) {
    const diagnostics = parseDiagnostics(result.output, root);
    // A non-zero exit with no error parsed (a crash, an unknown option) still fails the build.
    if (result.code !== 0 && !diagnostics.some((d) => d.level === 'Error')) {
      const message = `bicep ${step} exited with ${result.code}: ${result.output.trim()}`;
      diagnostics.push({ file: 'infra', line: 0, column: 0, level: 'Error', code: 'bicep-cli', message });
    }
    // The linter reports again what the build reported (and main.bicep its modules' findings): keep each once.
    for (const d of diagnostics) found.set(formatDiagnostic(d), d);
  }
  const outputs: Record<string, string> = {};
  for (const source of sources) {
    const output = outputFor(source);
    if (existsSync(output)) outputs[source] = relative(root, output).split(sep).join('/');
  }
  const result: InfraBuild = {
    bicep: cli,
    inputs,
    outputs,
    diagnostics: [...found.values()].sort((a, b) => formatDiagnostic(a).localeCompare(formatDiagnostic(b))),
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The last build, when it compiled exactly the current sources (same files, same hashes); otherwise undefined. */
export async function currentBuild(root: string): Promise<InfraBuild | undefined> {
  let build: InfraBuild;
  try {
    build = JSON.parse(await readFile(join(root, INFRA_BUILD_DIR, 'manifest.json'), 'utf8')) as InfraBuild;
  } catch {
    return undefined;
  }
  const inputs = infraInputs(root);
  const same =
    JSON.stringify(Object.entries(build.inputs).sort()) === JSON.stringify(Object.entries(inputs).sort()) &&
    Object.values(build.outputs).every((output) => existsSync(join(root, output)));
  return same ? build : undefined;
}
