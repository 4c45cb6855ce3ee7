import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/registry.js';
import type { EvalDocument } from '../../src/data/schema.js';
import { evaluate, resolveTask, type EvalProgress } from '../../src/eval/evaluate.js';
import { formatReport } from '../../src/eval/table.js';
import { SHARED_ROOT, warnIfNoSharedData } from '../data/shared-root.js';
import { FakeAnnotator, oracle } from './fake-annotator.js';

const docs: EvalDocument[] = [
  {
    id: 'd1',
    text: 'John works for Acme in Rome',
    words: [
      { text: 'John', start: 0, end: 4 },
      { text: 'works', start: 5, end: 10 },
      { text: 'for', start: 11, end: 14 },
      { text: 'Acme', start: 15, end: 19 },
      { text: 'in', start: 20, end: 22 },
      { text: 'Rome', start: 23, end: 27 },
    ],
    spans: [
      { start: 0, end: 4, label: 'John Smith', id: 'Q1' },
      { start: 15, end: 19, label: '--NME--' },
      { start: 23, end: 27, label: 'Rome', id: 'Q220' },
    ],
    triplets: [
      { subject: 0, relation: 'Work_For', object: 1 },
      { subject: 1, relation: 'OrgBased_In', object: 2 },
    ],
  },
  { id: 'd2', text: '   ', spans: [], triplets: [] },
  { id: 'd3', text: 'Paris', spans: [{ start: 0, end: 5, label: 'Paris', id: 'Q90' }], triplets: [] },
];

const span = (start: number, end: number, label: string, id: string | null = null) => ({ start, end, text: '', label, id, score: 1 });

/** One right link, one NME, one wrong link; one right relation (given by its alias), one wrong-direction relation. */
const scripted = () =>
  new FakeAnnotator((input) => {
    if (input.text === 'Paris') return { spans: [span(0, 5, 'Paris (band)', 'Q1')], triplets: [] };
    return {
      spans: [span(0, 4, 'John Smith', 'Q1'), span(15, 19, '--NME--'), span(23, 27, 'Rome'), span(23, 27, 'Rome')],
      triplets: [
        { subject: 0, relation: 'Work for', relationId: 'r0', object: 1, score: 0.9 },
        { subject: 2, relation: 'OrgBased_In', relationId: 'r2', object: 1, score: 0.8 },
      ],
    };
  });

const relations = [
  { id: 'Work_For', title: 'Work_For', text: 'Work_For', aliases: ['Work for'] },
  { id: 'OrgBased_In', title: 'OrgBased_In', text: 'OrgBased_In', aliases: [] },
];

describe('evaluate', () => {
  it('scores a cIE run, batches, reports progress and passes the dataset words', async () => {
    const annotator = scripted();
    const progress: EvalProgress[] = [];
    const report = await evaluate(annotator, docs, {
      dataset: 'toy',
      datasetTask: 'cie',
      bundleTask: 'cie',
      bundleName: 'fake',
      kbSize: 3,
      relations,
      batchSize: 2,
      total: 3,
      onProgress: (p) => progress.push(p),
    });
    // batches [d1, d2] (d2 is blank: not sent) and [d3]
    expect(annotator.calls.map((c) => c.inputs.map((i) => i.text))).toEqual([['John works for Acme in Rome'], ['Paris']]);
    expect(annotator.calls[0]?.inputs[0]?.words).toEqual(docs[0]?.words);
    expect(annotator.calls[0]?.options).toMatchObject({ keepNme: true, returnCandidates: true, returnWindows: true });
    expect(annotator.calls[0]?.options?.task).toBeUndefined();
    expect(progress.map((p) => [p.done, p.total])).toEqual([
      [2, 3],
      [3, 3],
    ]);

    const m = report.metrics;
    // EL: gold linked {John, Rome, Paris}; predicted linked {John, Rome (dup once), Paris (band)}
    expect(m.el).toMatchObject({ tp: 2, fp: 1, fn: 1 });
    // mentions: all 4 gold boundaries predicted
    expect(m.mentions).toMatchObject({ tp: 4, fp: 0, fn: 0, f1: 1 });
    // RE: Work_For right (alias), OrgBased_In reversed
    expect(m.re?.boundaries).toMatchObject({ tp: 1, fp: 1, fn: 1 });
    expect(m.re?.strict).toMatchObject({ tp: 1, fp: 1, fn: 1 });
    expect(report.perRelation?.Work_For?.boundaries).toMatchObject({ tp: 1, fp: 0, fn: 0, f1: 1 });
    expect(report.perRelation?.OrgBased_In?.boundaries).toMatchObject({ tp: 0, fp: 1, fn: 1, f1: 0 });
    expect(m.entityRecall).toBeUndefined(); // no windows returned by the fake
    expect(report.counts).toMatchObject({ documents: 3, goldSpans: 4, goldLinked: 3, goldNme: 1, goldTriplets: 2, predictedSpans: 5, predictedTriplets: 2 });
    expect(report).toMatchObject({ dataset: 'toy', bundle: 'fake', kbSize: 3, task: 'cie', relationErrorMode: 'strict' });

    expect(report.errors.map((e) => e.id)).toEqual(['d1', 'd3']);
    expect(report.errors[1]?.el).toEqual({
      falsePositives: [{ start: 0, end: 5, text: 'Paris', entity: 'Paris (band)' }],
      falseNegatives: [{ start: 0, end: 5, text: 'Paris', entity: 'Paris' }],
    });
    expect(report.errors[0]?.re?.falseNegatives[0]).toMatchObject({ subject: { text: 'Acme' }, relation: 'OrgBased_In', object: { text: 'Rome' } });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);

    const table = formatReport(report);
    expect(table).toMatch(/EL InKB strong\s+66\.67\s+66\.67\s+66\.67\s+2\s+1\s+1/);
    expect(table).toMatch(/cIE strict/);
    expect(table).toMatch(/Work_For\s+1\s+100\.00\s+100\.00\s+100\.00/);

    // RE dataset with typed gold entities, bundle without entity labels: strict is not a score, it is n/a
    const unlabeled = { ...report, datasetTask: 're' as const, counts: { ...report.counts, predictedLinked: 0 } };
    expect(formatReport(unlabeled)).toMatch(/RE strict\s+n\/a\s+n\/a\s+n\/a\n/);
    expect(formatReport(unlabeled)).toMatch(/the gold entities carry labels \(types\) and the bundle predicts none/);
    // gold without labels (WebNLG): strict equals boundaries and is printed
    const untyped = { ...unlabeled, counts: { ...unlabeled.counts, goldLinked: 0 } };
    expect(formatReport(untyped)).toMatch(/RE strict\s+50\.00\s+50\.00\s+50\.00/);
  });

  it('narrows a cIE bundle to el on an EL dataset and skips RE metrics', async () => {
    const annotator = scripted();
    const report = await evaluate(annotator, docs, { dataset: 'toy', datasetTask: 'el', bundleTask: 'cie', collectErrors: false });
    expect(annotator.calls[0]?.options?.task).toBe('el');
    expect(report.metrics.re).toBeUndefined();
    expect(report.perRelation).toBeUndefined();
    expect(report.errors).toEqual([]);
    expect(report.metrics.el).toMatchObject({ tp: 2, fp: 1, fn: 1 });
  });

  it('a link threshold sweep annotates at 0 and rescores EL at each threshold from the link scores', async () => {
    // d1: John right (0.9), Rome right (0.4), an NME; d3: a wrong link (0.6).
    const annotator = new FakeAnnotator((input) =>
      input.text === 'Paris'
        ? { spans: [{ ...span(0, 5, 'Paris (band)', 'Q1'), score: 0.6 }], triplets: [] }
        : { spans: [{ ...span(0, 4, 'John Smith', 'Q1'), score: 0.9 }, span(15, 19, '--NME--'), { ...span(23, 27, 'Rome', 'Q220'), score: 0.4 }], triplets: [] },
    );
    const report = await evaluate(annotator, docs, {
      dataset: 'toy', datasetTask: 'el', bundleTask: 'el', linkThresholdSweep: [0, 0.5, 0.7, 0.95], annotateOptions: { topK: 3 },
    });
    expect(annotator.calls.map((c) => c.options?.linkThreshold)).toEqual([0]);
    expect(annotator.calls[0]?.options?.topK).toBe(3);
    expect(report.metrics.el).toMatchObject({ tp: 2, fp: 1, fn: 1 }); // threshold 0: the run itself
    expect(report.metrics.linkThresholdCurve?.map((p) => [p.threshold, p.tp, p.fp, p.fn])).toEqual([
      [0, 2, 1, 1],
      [0.5, 1, 1, 2], // Rome (0.4) is NME
      [0.7, 1, 0, 2], // so is the wrong Paris link (0.6)
      [0.95, 0, 0, 3],
    ]);
    expect(formatReport(report)).toMatch(/EL InKB by link threshold[\s\S]*0\.70 +100\.00 +33\.33 +50\.00[\s\S]*best: 0\.00 \(F1 66\.67\)/);
    // Without the sweep there is no curve, and a sweep needs EL and threshold-0 runs.
    expect((await evaluate(annotator, docs, { dataset: 'toy', datasetTask: 'el' })).metrics.linkThresholdCurve).toBeUndefined();
    await expect(evaluate(annotator, docs, { dataset: 'toy', datasetTask: 're', linkThresholdSweep: [0.5] })).rejects.toThrow(/linkThresholdSweep needs an EL dataset/);
    await expect(evaluate(annotator, docs, { dataset: 'toy', datasetTask: 'el', linkThresholdSweep: [1] })).rejects.toThrow('linkThresholdSweep[0] must be a number in [0, 1), got 1');
    await expect(evaluate(annotator, docs, { dataset: 'toy', datasetTask: 'el', linkThresholdSweep: [0.5], annotateOptions: { linkThreshold: 0.8 } })).rejects.toThrow(/remove annotateOptions.linkThreshold \(0.8\)/);
  });

  it('computes retriever recall from returned windows', async () => {
    const annotator = new FakeAnnotator(() => ({
      spans: [],
      triplets: [],
      windows: [
        { firstWord: 0, endWord: 6, start: 0, end: 27, passes: 1, entityCandidates: [
          { id: 'x', title: 'Rome', score: 2 },
          { id: 'y', title: 'John Smith', score: 1 },
        ] },
      ],
    }));
    const report = await evaluate(annotator, docs.slice(0, 1), { dataset: 'toy', datasetTask: 'el', bundleTask: 'el', recallAt: [1, 2] });
    expect(report.metrics.entityRecall).toEqual({ total: 2, at: { '1': 0.5, '2': 1 }, all: 1 });
    expect(report.counts.windows).toBe(1);
    expect(report.metrics.el).toMatchObject({ tp: 0, fp: 0, fn: 2, f1: 0 });
  });

  it('rejects impossible task combinations and bad options with clear errors', async () => {
    expect(() => resolveTask('el', 're')).toThrow(/a bundle with task "re" cannot be evaluated on an el dataset/);
    expect(() => resolveTask('re', 'el')).toThrow(/cannot be evaluated on an re dataset/);
    expect(resolveTask('cie', 're')).toBe('re');
    await expect(evaluate(scripted(), docs, { dataset: 't', datasetTask: 'el', batchSize: 0 })).rejects.toThrow(
      'batchSize must be a positive integer, got 0',
    );
    const short = new FakeAnnotator(() => ({ spans: [], triplets: [] }));
    short.annotate = async () => [];
    await expect(evaluate(short, docs, { dataset: 't', datasetTask: 'el' })).rejects.toThrow(/annotate returned 0 results for 2 inputs/);
  });

  it('gives zero scores (no NaN) on an empty dataset', async () => {
    const report = await evaluate(scripted(), [], { dataset: 'empty', datasetTask: 'cie' });
    expect(report.metrics.el).toEqual({ tp: 0, fp: 0, fn: 0, precision: 0, recall: 0, f1: 0 });
    expect(report.metrics.re?.strict.f1).toBe(0);
    expect(formatReport(report)).not.toMatch(/NaN/);
  });
});

const ROOT = SHARED_ROOT;
warnIfNoSharedData('oracle evaluation tests');
describe.skipIf(!ROOT)('oracle predictions on the shared datasets score 100', () => {
  it.each([
    ['conll04:test', 're'],
    ['aida:testb', 'el'],
    ['rebel:sample', 'cie'],
  ] as const)('%s', async (name, task) => {
    const documents = await loadDataset(name, { root: ROOT as string });
    const report = await evaluate(oracle(documents), documents, {
      dataset: name,
      datasetTask: task,
      entityKey: name === 'rebel:sample' ? 'id' : 'label',
      batchSize: 64,
    });
    expect(report.metrics.mentions.f1).toBe(1);
    if (task !== 're') expect(report.metrics.el?.f1).toBe(1);
    if (task !== 'el') expect([report.metrics.re?.boundaries.f1, report.metrics.re?.strict.f1]).toEqual([1, 1]);
    expect(report.errors).toEqual([]);
  });
});
