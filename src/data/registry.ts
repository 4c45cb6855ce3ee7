/**
 * The named evaluation datasets ("conll04:test", "aida:testb", ...) and where their files live under the data
 * root (default `../shared/data` relative to the working directory, or `$RELIK_DATA`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Task } from '../types.js';
import { DatasetError, UnknownDatasetError } from './errors.js';
import type { IssueLog } from './issues.js';
import { readAida } from './readers/aida.js';
import { readCasRel } from './readers/casrel.js';
import { readRebel } from './readers/rebel.js';
import {
  readConll04Relations,
  readNytRelations,
  readRel2id,
  readWikidataProperties,
  type RelationPassage,
} from './readers/relations.js';
import { readRelikRe } from './readers/relik-re.js';
import { readEvalJsonl, type EvalDocument } from './schema.js';

/** How gold entities are compared with predictions: by KB title (`label`) or by KB id (`id`). */
export type EntityKey = 'label' | 'id';

/** A dataset the evaluator can read. */
export interface DatasetSpec {
  readonly name: string;
  /** Which annotations the gold has: el (mentions + entities), re (mentions + triplets), cie (both). */
  readonly task: Task;
  readonly description: string;
  readonly entityKey: EntityKey;
  /** Main file, relative to the data root (absolute for user files). */
  readonly file: string;
  /** KB file relative to the data root, for datasets whose gold entities come from it. */
  readonly kbFile?: string;
  read(root: string, issues?: IssueLog): AsyncGenerator<EvalDocument>;
  relations?(root: string): Promise<RelationPassage[]>;
}

type Reader = (file: string, options: { issues?: IssueLog }) => AsyncGenerator<EvalDocument>;

function spec(
  name: string,
  task: Task,
  description: string,
  file: string,
  reader: Reader,
  extra: { entityKey?: EntityKey; kbFile?: string; relations?: (root: string) => Promise<RelationPassage[]> } = {},
): DatasetSpec {
  return {
    name,
    task,
    description,
    file,
    entityKey: extra.entityKey ?? 'label',
    ...(extra.kbFile ? { kbFile: extra.kbFile } : {}),
    read: (root, issues) => reader(resolve(root, file), issues ? { issues } : {}),
    ...(extra.relations ? { relations: extra.relations } : {}),
  };
}

const conll04Relations = (root: string): Promise<RelationPassage[]> =>
  readConll04Relations(resolve(root, 'conll04/processed/conll04_types.json'));
const nytRelations = (root: string): Promise<RelationPassage[]> =>
  readNytRelations(resolve(root, 'nyt/processed/relation_names_relik.json'));
const webnlgRelations =
  (dir: string) =>
  (root: string): Promise<RelationPassage[]> =>
    readRel2id(resolve(root, `webnlg/orig_onerel/${dir}/rel2id.json`));
const rebelRelations = (root: string): Promise<RelationPassage[]> =>
  readWikidataProperties(resolve(root, 'wikidata_properties/rebel_relations_with_pid_desc.json'));

function buildRegistry(): Map<string, DatasetSpec> {
  const specs: DatasetSpec[] = [];
  const splits = ['train', 'dev', 'test'];
  for (const split of splits) {
    specs.push(
      spec(`conll04:${split}`, 're', `CoNLL04 ${split} (SpERT split), 5 relation types`,
        `conll04/processed/conll04_${split}.relik.jsonl`, readRelikRe, { relations: conll04Relations }),
    );
  }
  for (const [prefix, dir] of [['webnlg', 'WebNLG'], ['webnlg-star', 'WebNLG_star']] as const) {
    for (const split of splits) {
      specs.push(
        spec(`${prefix}:${split}`, 're', `${dir.replace('_star', '*')} ${split} (CasRel/OneRel version)`,
          `webnlg/orig_onerel/${dir}/${split}_triples.json`,
          (f, o) => readCasRel(f, { ...o, idPrefix: `${prefix}-${split}` }), { relations: webnlgRelations(dir) }),
      );
    }
  }
  for (const split of ['dev', 'test']) {
    specs.push(
      spec(`nyt:${split}`, 're', `NYT ${split} (CopyRE/ReLiK version, 24 relations)`,
        `nyt/processed/nyt_${split}.relik.jsonl`, readRelikRe, { relations: nytRelations }),
    );
  }
  for (const split of ['train', 'testa', 'testb']) {
    specs.push(
      spec(`aida:${split}`, 'el', `AIDA-CoNLL ${split}${split === 'testa' ? ' (dev)' : split === 'testb' ? ' (test)' : ''}`,
        `aida/processed/aida_${split}.jsonl`, readAida, { kbFile: 'kb/entities.jsonl' }),
    );
  }
  specs.push(
    spec('rebel:sample', 'cie', 'REBEL sample (1,000 Wikipedia abstracts, Wikidata QIDs)', 'rebel/rebel_sample.jsonl',
      readRebel, { entityKey: 'id', relations: rebelRelations }),
  );
  for (const [split, [from, to]] of Object.entries(REBEL_SPLITS)) {
    const range = Number.isFinite(to) ? `documents ${from}-${to - 1}` : `documents ${from}-end`;
    specs.push(
      spec(`rebel:${split}`, 'cie', `REBEL sample ${split} split (${range})`, 'rebel/rebel_sample.jsonl',
        (f, o) => slice(readRebel(f, o), from, to), { entityKey: 'id', relations: rebelRelations }),
    );
  }
  return new Map(specs.map((s) => [s.name, s]));
}

/**
 * The documented split of the REBEL sample, by document position in the file (the training code uses the same:
 * training/relik_train/data.py `split_rebel`): test = documents 0-99, dev = 100-199, train = 200-999.
 */
export const REBEL_SPLITS: Readonly<Record<'train' | 'dev' | 'test', readonly [number, number]>> = {
  test: [0, 100],
  dev: [100, 200],
  train: [200, Number.POSITIVE_INFINITY],
};

/** The documents of `docs` at positions [from, to). */
async function* slice<T>(docs: AsyncGenerator<T>, from: number, to: number): AsyncGenerator<T> {
  let i = 0;
  for await (const doc of docs) {
    if (i >= to) return;
    if (i >= from) yield doc;
    i += 1;
  }
}

const REGISTRY = buildRegistry();

/** Names of all registered datasets. */
export function datasetNames(): string[] {
  return [...REGISTRY.keys()];
}

/**
 * Resolves a dataset name to its spec. A name ending in `.jsonl` is a user file in the ReLiK-TS schema
 * (task `cie`: every metric its annotations support). Unknown names throw {@link UnknownDatasetError}.
 */
export function getDataset(name: string): DatasetSpec {
  const known = REGISTRY.get(name);
  if (known) return known;
  if (name.endsWith('.jsonl')) {
    const file = resolve(name);
    return {
      name,
      task: 'cie',
      description: `user file ${file}`,
      entityKey: 'label',
      file,
      read: (_root, issues) => readEvalJsonl(file, issues),
    };
  }
  throw new UnknownDatasetError(name, datasetNames());
}

/**
 * The data root: `override` if given, else `env.RELIK_DATA`, else `../shared/data` relative to `cwd`.
 */
export function dataRoot(override?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (override) return resolve(cwd, override);
  if (env.RELIK_DATA) return resolve(cwd, env.RELIK_DATA);
  return resolve(cwd, '../shared/data');
}

/** Options of {@link loadDataset}. */
export interface LoadOptions {
  readonly root?: string;
  /** Keep only the first `limit` documents. */
  readonly limit?: number;
  readonly issues?: IssueLog;
}

/**
 * Reads a named dataset into memory (stopping after `limit` documents). Throws a {@link DatasetError} when the
 * data root or the file is missing.
 */
export async function loadDataset(name: string, options: LoadOptions = {}): Promise<EvalDocument[]> {
  const ds = getDataset(name);
  const root = options.root ?? dataRoot();
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw new RangeError(`limit must be a non-negative integer, got ${options.limit}`);
  }
  const file = resolve(root, ds.file);
  if (!existsSync(file)) {
    throw new DatasetError(`dataset ${name} not found; set --data-root or RELIK_DATA to the shared data folder`, file);
  }
  const docs: EvalDocument[] = [];
  if (options.limit === 0) return docs;
  for await (const doc of ds.read(root, options.issues)) {
    docs.push(doc);
    if (options.limit !== undefined && docs.length >= options.limit) break;
  }
  return docs;
}
