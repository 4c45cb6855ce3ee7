/**
 * Relation inventories and relation passages (what a relation index embeds and the reader sees).
 */
import { DatasetError } from '../errors.js';
import { isRecord, readJsonFile } from '../jsonl.js';

/** A relation type: `title` is the name used in gold triplets, `text` the passage ("label: description"). */
export interface RelationPassage {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  /** Other names a model may use for this relation (ids, verbose names); mapped to `title` when scoring. */
  readonly aliases: readonly string[];
}

function passage(id: string, title: string, description: string | null | undefined, aliases: string[] = []): RelationPassage {
  const desc = description && description !== 'None' && description !== 'No description defined' ? description : '';
  const all = [id, ...aliases].filter((a) => a !== title);
  return { id, title, text: desc ? `${title}: ${desc}` : title, aliases: [...new Set(all)] };
}

function nullableString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/**
 * Reads Wikidata property passages from any of the staged `wikidata_properties/*.json` layouts:
 * `[{pid, label, description}]` (merged, REBEL list; a REBEL label without PID gets its label as id),
 * `{PID: [label, description]}` (FewRel) or `{PID: label}` (2016 dump). Passages are "label: description"
 * (just the label when there is no description). Duplicate ids throw a {@link DatasetError}.
 */
export async function readWikidataProperties(file: string): Promise<RelationPassage[]> {
  const data = await readJsonFile(file);
  const out: RelationPassage[] = [];
  if (Array.isArray(data)) {
    data.forEach((item, i) => {
      if (!isRecord(item) || typeof item.label !== 'string') {
        throw new DatasetError(`record ${i + 1}: expected {pid, label, description}`, file);
      }
      const pid = nullableString(item.pid);
      out.push(passage(pid ?? item.label, item.label, nullableString(item.description)));
    });
  } else if (isRecord(data)) {
    for (const [pid, v] of Object.entries(data)) {
      if (typeof v === 'string') out.push(passage(pid, v, null));
      else if (Array.isArray(v) && typeof v[0] === 'string') out.push(passage(pid, v[0], nullableString(v[1])));
      else throw new DatasetError(`property ${pid}: expected a label or [label, description]`, file);
    }
  } else {
    throw new DatasetError('expected a JSON array or object of Wikidata properties', file);
  }
  const seen = new Set<string>();
  for (const p of out) {
    if (seen.has(p.id)) throw new DatasetError(`duplicate relation id "${p.id}"`, file);
    seen.add(p.id);
  }
  return out;
}

/** CoNLL04's 5 relation types from `conll04_types.json` (title = gold name "Work_For", alias = "Work for"). */
export async function readConll04Relations(file: string): Promise<RelationPassage[]> {
  const data = await readJsonFile(file);
  if (!isRecord(data) || !isRecord(data.relations)) throw new DatasetError('expected {"relations": {...}}', file);
  return Object.entries(data.relations).map(([name, v]) => {
    const verbose = isRecord(v) && typeof v.verbose === 'string' ? v.verbose : name;
    return passage(name, name, null, [verbose]);
  });
}

/** NYT's 24 relations from `relation_names_relik.json` (id = Freebase relation, title = ReLiK name). */
export async function readNytRelations(file: string): Promise<RelationPassage[]> {
  const data = await readJsonFile(file);
  if (!isRecord(data)) throw new DatasetError('expected {"/freebase/relation": "name"}', file);
  return Object.entries(data).map(([freebase, name]) => {
    if (typeof name !== 'string') throw new DatasetError(`relation ${freebase}: name must be a string`, file);
    return passage(freebase, name, null);
  });
}

/** Relations of a CasRel `rel2id.json` (`[{id: name}, {name: id}]`), in id order. */
export async function readRel2id(file: string): Promise<RelationPassage[]> {
  const data = await readJsonFile(file);
  const id2rel = Array.isArray(data) ? data[0] : undefined;
  if (!isRecord(id2rel)) throw new DatasetError('expected [{"0": "relation", ...}, {...}]', file);
  return Object.entries(id2rel)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, name]) => {
      if (typeof name !== 'string') throw new DatasetError('relation names must be strings', file);
      return passage(name, name, null);
    });
}

/** Maps every name and alias of an inventory to the gold relation name. */
export function relationAliases(inventory: readonly RelationPassage[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const r of inventory) map.set(r.title, r.title);
  for (const r of inventory) for (const a of r.aliases) if (!map.has(a)) map.set(a, r.title);
  return map;
}
