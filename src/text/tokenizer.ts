import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { BundleError } from '../errors.js';

/**
 * Subword tokenizer over a Hugging Face `tokenizer.json` (pure JavaScript, so it also runs in the browser).
 * Words are tokenized one at a time, as the reader was trained, and cached because documents repeat words.
 */
export class SubwordTokenizer {
  private readonly wordCache = new Map<string, readonly number[]>();
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly path: string,
  ) {
    this.clsId = this.requireSpecial(['[CLS]', '<s>', '<cls>']);
    this.sepId = this.requireSpecial(['[SEP]', '</s>', '<sep>']);
    this.padId = this.findId(['[PAD]', '<pad>']) ?? 0;
  }

  /** Loads `tokenizer.json` (and `tokenizer_config.json` beside it when present). */
  static async load(path: string): Promise<SubwordTokenizer> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      throw new BundleError(`cannot read tokenizer: ${(error as Error).message}`, path);
    }
    if (typeof json !== 'object' || json === null || !('model' in json)) {
      throw new BundleError('tokenizer.json has no "model" section', path);
    }
    let config: object = {};
    try {
      config = JSON.parse(await readFile(path.replace(/tokenizer\.json$/, 'tokenizer_config.json'), 'utf8')) as object;
    } catch {
      // tokenizer_config.json is optional
    }
    try {
      return new SubwordTokenizer(new Tokenizer(json, config), path);
    } catch (error) {
      throw new BundleError(`invalid tokenizer: ${(error as Error).message}`, path);
    }
  }

  /** Id of a token that must exist (marker tokens, special tokens). */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new BundleError(`token ${JSON.stringify(token)} is missing from the vocabulary`, this.path);
    return id;
  }

  hasToken(token: string): boolean {
    return this.tokenizer.token_to_id(token) !== undefined;
  }

  /** Subword ids of one word, without special tokens. */
  encodeWord(word: string): readonly number[] {
    const cached = this.wordCache.get(word);
    if (cached !== undefined) return cached;
    const ids = this.tokenizer.encode(word, { add_special_tokens: false }).ids;
    if (this.wordCache.size > 200_000) this.wordCache.clear();
    this.wordCache.set(word, ids);
    return ids;
  }

  /** Subword ids of a free text (a title, a passage), without special tokens. */
  encodeText(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  private findId(candidates: readonly string[]): number | undefined {
    for (const token of candidates) {
      const id = this.tokenizer.token_to_id(token);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  private requireSpecial(candidates: readonly string[]): number {
    const id = this.findId(candidates);
    if (id === undefined) throw new BundleError(`tokenizer has none of the special tokens ${candidates.join(', ')}`, this.path);
    return id;
  }
}
