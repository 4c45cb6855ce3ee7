/** A scripted annotator for evaluator tests: returns predictions from a function of the input text. */
import type { Annotator } from '../../src/eval/evaluate.js';
import type { EvalDocument } from '../../src/data/schema.js';
import type { AnnotateOptions, AnnotatedSpan, DocumentInput, RelikResult, Triplet } from '../../src/types.js';

export const NO_TRUNCATION = { patchedWindows: 0, droppedCandidates: 0, truncatedCandidateTitles: 0, splitWindows: 0, droppedMentions: 0 };

export interface Call {
  readonly inputs: DocumentInput[];
  readonly options: AnnotateOptions | undefined;
}

export class FakeAnnotator implements Annotator {
  readonly calls: Call[] = [];
  constructor(private readonly predict: (input: DocumentInput) => Omit<RelikResult, 'text' | 'truncation'>) {}

  async annotate(inputs: DocumentInput[], options?: AnnotateOptions): Promise<RelikResult[]> {
    this.calls.push({ inputs, options });
    return inputs.map((input) => ({ text: input.text, truncation: NO_TRUNCATION, ...this.predict(input) }));
  }
}

/** An annotator that returns the gold annotations of `docs` (entities by label, relations by name). */
export function oracle(docs: readonly EvalDocument[]): FakeAnnotator {
  const byText = new Map(docs.map((d) => [d.text, d]));
  return new FakeAnnotator((input) => {
    const doc = byText.get(input.text);
    if (!doc) throw new Error(`unknown text ${input.text}`);
    const spans: AnnotatedSpan[] = doc.spans.map((s) => ({
      start: s.start,
      end: s.end,
      text: doc.text.slice(s.start, s.end),
      label: s.label ?? s.id ?? '--NME--',
      id: s.id ?? null,
      score: 1,
    }));
    const triplets: Triplet[] = doc.triplets.map((t) => ({ subject: t.subject, relation: t.relation, relationId: t.relation, object: t.object, score: 1 }));
    return { spans, triplets };
  });
}
