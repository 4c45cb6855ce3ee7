/**
 * The committed default bundle reproduces the accuracy docs/RESULTS.md gives for it, through `relik eval` as a user
 * runs it. Needs ../shared/data (skipped, with a warning, without it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../../src/eval/report.js';
import { SHARED_ROOT, warnIfNoSharedData } from '../data/shared-root.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const run = promisify(execFile);

/**
 * F1 of models/default as RESULTS.md records it (accuracy level 0: the same at any batch size). The tolerance is one
 * or two decisions out of several hundred: float sums may round differently on another CPU's kernels.
 */
const TOLERANCE = 0.005;
const EXPECTED = [
  { dataset: 'conll04:test', metric: 'RE boundaries', f1: 0.5363, shown: '**53.6**', pick: (r: EvalReport) => r.metrics.re?.boundaries.f1 },
  { dataset: 'aida:testb', metric: 'EL InKB', f1: 0.7103, shown: '**71.0**', pick: (r: EvalReport) => r.metrics.el?.f1 },
] as const;

let work = '';
/** The lines of RESULTS.md that report models/default. */
let defaultRows: string[] = [];
beforeAll(async () => {
  warnIfNoSharedData('the RESULTS.md reproduction of models/default is');
  if (!existsSync(cli)) await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root });
  work = await mkdtemp(join(tmpdir(), 'relik-results-'));
  const results = await readFile(join(root, 'docs', 'RESULTS.md'), 'utf8');
  defaultRows = results.split('\n').filter((l) => l.startsWith('| **models/default**'));
}, 120_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!SHARED_ROOT)('models/default reproduces docs/RESULTS.md', () => {
  for (const row of EXPECTED) {
    it(`${row.dataset}: ${row.metric} F1 ${row.f1}`, async () => {
      // The figure under test is the one the document shows for the default bundle.
      expect(defaultRows.some((l) => l.includes(row.shown))).toBe(true);

      const out = join(work, `${row.dataset.replace(':', '-')}.json`);
      await run(process.execPath, [cli, 'eval', 'models/default', row.dataset, '--data-root', SHARED_ROOT ?? '', '--out', out], {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
      });
      const report = JSON.parse(await readFile(out, 'utf8')) as EvalReport;
      const f1 = row.pick(report);
      expect(f1).toBeDefined();
      expect(Math.abs((f1 ?? 0) - row.f1)).toBeLessThanOrEqual(TOLERANCE);
    }, 600_000);
  }
});
