import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseManifest, type BundleManifest, type CandidateSource as SourceSettings } from './bundle/manifest.js';
import { BundleError } from './errors.js';
import { PassageIndex } from './index/vector-index.js';
import { resolveOptions, prepareDocument } from './options.js';
import { annotateDocuments, type PipelineParts } from './pipeline/annotate.js';
import { CandidateSource } from './pipeline/candidates.js';
import { Retriever } from './pipeline/retriever.js';
import { Reader } from './reader/reader.js';
import type { AnnotateInput, AnnotateOptions, RelikResult, Task } from './types.js';

export interface LoadOptions {
  /** Threads per ONNX session (default: all cores). */
  readonly threads?: number;
}

/**
 * A loaded ReLiK model bundle: retriever(s), index(es) and reader.
 *
 * @example
 * ```ts
 * import { Relik } from 'relik-ts';
 * const relik = await Relik.load('models/default');
 * const result = await relik.annotate('Barack Obama was born in Hawaii.');
 * for (const span of result.spans) console.log(span.text, '->', span.label, span.score.toFixed(2));
 * for (const t of result.triplets) console.log(result.spans[t.subject].text, t.relation, result.spans[t.object].text);
 * await relik.close();
 * ```
 * A string in gives one result out; an array in gives an array of results, one per text, in order.
 */
export class Relik {
  private constructor(
    readonly dir: string,
    readonly manifest: BundleManifest,
    private readonly parts: PipelineParts,
    private readonly retrievers: readonly Retriever[],
  ) {}

  get name(): string {
    return this.manifest.name;
  }

  get task(): Task {
    return this.manifest.task;
  }

  /** Entity KB size (0 for relation-only bundles). */
  get entityCount(): number {
    return this.parts.entities?.index.manifest.count ?? 0;
  }

  /** Loads a bundle folder (docs/BUNDLE.md). Every file is checked; problems throw `BundleError` with the path. */
  static async load(dir: string, options: LoadOptions = {}): Promise<Relik> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be the path of a bundle folder');
    if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
      throw new RangeError(`options.threads must be an integer >= 1, got ${String(options.threads)}`);
    }
    const root = resolve(dir);
    const manifestPath = join(root, 'relik.json');
    let text: string;
    try {
      text = await readFile(manifestPath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BundleError(code === 'ENOENT' ? 'not a ReLiK bundle: relik.json is missing' : `cannot read relik.json: ${code ?? ''}`, manifestPath);
    }
    const manifest = parseManifest(text, manifestPath);
    const session = options.threads === undefined ? {} : { threads: options.threads };
    const usesEntities = manifest.task !== 're';
    const usesRelations = manifest.task !== 'el';
    const reader = await Reader.load(join(root, manifest.reader.dir), manifest.reader, { el: usesEntities, re: usesRelations }, session);

    const retrievers = new Map<string, Retriever>();
    const source = async (settings: SourceSettings | null): Promise<CandidateSource | null> => {
      if (settings === null) return null;
      const index = await PassageIndex.load(join(root, settings.index));
      let retriever: Retriever | null = null;
      if (settings.retriever !== null) {
        const sharesReader = resolve(root, settings.retriever) === resolve(root, manifest.reader.dir);
        retriever =
          retrievers.get(settings.retriever) ??
          (sharesReader
            ? Retriever.sharing(reader.tokenizer, reader.session, manifest.retriever.maxQueryTokens)
            : await Retriever.load(join(root, settings.retriever), manifest.retriever.maxQueryTokens, session));
        retrievers.set(settings.retriever, retriever);
        if (index.search === null) throw new BundleError('index has no embeddings but the bundle retrieves from it', join(root, settings.index, 'index.json'));
      }
      return new CandidateSource(index, retriever, (title) => reader.tokenizer.encodeText(title), manifest.reader.maxCandidateTokens, settings === manifest.entities);
    };
    const entities = usesEntities ? await source(manifest.entities) : null;
    const relations = usesRelations ? await source(manifest.relations) : null;
    return new Relik(root, manifest, { manifest, reader, entities, relations }, [...retrievers.values()]);
  }

  /** Annotates one text (or `{text, words}`): entity spans and relation triplets with character offsets. */
  annotate(input: AnnotateInput, options?: AnnotateOptions): Promise<RelikResult>;
  /** Annotates several texts in one batch; one result per text, in order. */
  annotate(inputs: readonly AnnotateInput[], options?: AnnotateOptions): Promise<RelikResult[]>;
  async annotate(input: AnnotateInput | readonly AnnotateInput[], options?: AnnotateOptions): Promise<RelikResult | RelikResult[]> {
    const many = Array.isArray(input);
    const inputs: readonly AnnotateInput[] = many ? input : [input as AnnotateInput];
    const resolved = resolveOptions(this.manifest, options, inputs.length);
    if (resolved.task !== 'el' && this.parts.relations === null) throw new RangeError(`options.task ${resolved.task} needs relations, which this bundle does not have`);
    const documents = inputs.map((doc, i) => {
      const prepared = prepareDocument(doc, i, resolved.mentions?.[i]);
      if (prepared.text.trim() === '') throw new RangeError(`texts[${i}] is empty; give a non-empty text`);
      return prepared;
    });
    const results = documents.length === 0 ? [] : await annotateDocuments(this.parts, documents, resolved);
    return many ? results : (results[0] as RelikResult);
  }

  /** Releases the ONNX sessions. */
  async close(): Promise<void> {
    await this.parts.reader.release();
    for (const retriever of this.retrievers) await retriever.release();
  }
}
