/**
 * `relik eval <bundle> <dataset>`: scores a model bundle on a benchmark (see src/eval/run.ts for the options).
 */
import { Relik } from '../relik.js';
import { runEvalWith, type CliIo } from '../eval/run.js';

/**
 * Runs `relik eval` with the given arguments (those after `eval`; a leading `eval` is tolerated). Returns the
 * process exit code (0 ok, 1 failure, 2 usage error).
 */
export async function runEval(argv: string[], io: CliIo): Promise<number> {
  return runEvalWith(argv, io, (dir) => Relik.load(dir));
}
