/**
 * Machine and software description recorded with every benchmark result.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where and with what a benchmark ran. */
export interface MachineInfo {
  readonly cpuModel: string;
  /** Logical cores (`os.availableParallelism()`). */
  readonly cores: number;
  readonly totalMemoryBytes: number;
  readonly platform: string;
  readonly osRelease: string;
  readonly arch: string;
  readonly node: string;
  /** onnxruntime-node package version, or null when it cannot be read. */
  readonly onnxruntime: string | null;
  readonly usearch: string | null;
  /** `git rev-parse HEAD` of the working directory, or null outside a git checkout. */
  readonly gitCommit: string | null;
  /** Whether tracked files differ from the commit (null when unknown). */
  readonly gitDirty: boolean | null;
  /** 1-minute load average at the start: a value near or above `cores` means a shared, noisy machine. */
  readonly loadAverage1m: number;
}

const require = createRequire(import.meta.url);

/** Version of an installed package (read from its package.json), or null. */
export async function packageVersion(name: string): Promise<string | null> {
  try {
    const main = require.resolve(name);
    const marker = `/node_modules/${name}/`;
    const at = main.lastIndexOf(marker);
    if (at < 0) return null;
    const json: unknown = JSON.parse(await readFile(`${main.slice(0, at + marker.length)}package.json`, 'utf8'));
    const version = (json as { version?: unknown }).version;
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

async function git(args: readonly string[], cwd: string): Promise<string | null> {
  try {
    const { stdout } = await run('git', [...args], { cwd, timeout: 5000 });
    return stdout.trim();
  } catch {
    return null;
  }
}

/** Collects {@link MachineInfo}; git is asked about `cwd` (default: the working directory). */
export async function machineInfo(cwd = process.cwd()): Promise<MachineInfo> {
  const cpu = cpus()[0];
  const [onnxruntime, usearch, commit, status] = await Promise.all([
    packageVersion('onnxruntime-node'),
    packageVersion('usearch'),
    git(['rev-parse', 'HEAD'], cwd),
    git(['status', '--porcelain', '--untracked-files=no'], cwd),
  ]);
  return {
    cpuModel: cpu?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    totalMemoryBytes: totalmem(),
    platform: platform(),
    osRelease: release(),
    arch: arch(),
    node: process.version,
    onnxruntime,
    usearch,
    gitCommit: commit,
    gitDirty: status === null ? null : status !== '',
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
