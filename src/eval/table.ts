/**
 * Plain-text rendering of an evaluation report.
 */
import type { Prf } from './metrics.js';
import type { EvalReport, RecallReport } from './report.js';

const pct = (x: number): string => (100 * x).toFixed(2);

function pad(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

function prfRow(name: string, m: Prf): string[] {
  return [name, pct(m.precision), pct(m.recall), pct(m.f1), String(m.tp), String(m.fp), String(m.fn)];
}

function recallLine(name: string, r: RecallReport): string {
  const at = Object.entries(r.at).map(([k, v]) => `@${k} ${pct(v)}`);
  return `${name} recall (${r.total} window-gold pairs): ${[...at, `@all ${pct(r.all)}`].join('  ')}`;
}

/**
 * Formats a report as a table: one row per metric (P / R / F1 in %, TP / FP / FN), then retriever recall, then
 * the `maxRelations` most frequent relations.
 */
export function formatReport(report: EvalReport, maxRelations = 30): string {
  const c = report.counts;
  const lines = [
    `dataset ${report.dataset} (${report.datasetTask})  bundle ${report.bundle ?? '-'} (task ${report.task})` +
      (report.kbSize !== null ? `  KB ${report.kbSize} entities` : ''),
    `${c.documents} documents, ${c.goldSpans} gold spans` +
      (report.datasetTask === 're' ? '' : ` (${c.goldLinked} linked, ${c.goldNme} NME)`) +
      `, ${c.goldTriplets} gold triplets; ` +
      `predicted ${c.predictedSpans} spans, ${c.predictedTriplets} triplets; ${report.timing.seconds.toFixed(1)} s ` +
      `(${report.timing.documentsPerSecond.toFixed(2)} docs/s)`,
    '',
  ];
  const rows: string[][] = [['metric', 'P', 'R', 'F1', 'TP', 'FP', 'FN']];
  const m = report.metrics;
  rows.push(prfRow('mention detection', m.mentions));
  if (m.el) rows.push(prfRow('EL InKB strong', m.el));
  // Gold arguments carry labels (CoNLL04's entity types) that an RE-only bundle never predicts: a strict score
  // would read 0.00 whatever the model, so the table says why there is none (the JSON report keeps the counts).
  const strictUnscorable = report.datasetTask === 're' && c.goldLinked > 0 && c.predictedLinked === 0;
  if (m.re) {
    rows.push(prfRow('RE boundaries', m.re.boundaries));
    const strictName = report.datasetTask === 'cie' ? 'cIE strict' : 'RE strict';
    rows.push(strictUnscorable ? [strictName, 'n/a', 'n/a', 'n/a'] : prfRow(strictName, m.re.strict));
  }
  lines.push(pad(rows));
  if (m.re && strictUnscorable) {
    lines.push('RE strict n/a: the gold entities carry labels (types) and the bundle predicts none');
  }
  if (m.entityRecall) lines.push('', recallLine('entity retriever', m.entityRecall));
  if (m.linkThresholdCurve && m.linkThresholdCurve.length > 0) {
    const curve = m.linkThresholdCurve;
    const best = curve.reduce((a, b) => (b.f1 > a.f1 ? b : a));
    lines.push('', 'EL InKB by link threshold (links less probable are NME; rescored from one pass at 0):');
    lines.push(pad([['threshold', 'P', 'R', 'F1'], ...curve.map((p) => [p.threshold.toFixed(2), pct(p.precision), pct(p.recall), pct(p.f1)])]));
    lines.push(`best: ${best.threshold.toFixed(2)} (F1 ${pct(best.f1)})`);
  }
  if (m.relationRecall) lines.push('', recallLine('relation retriever', m.relationRecall));
  if (report.perRelation) {
    const entries = Object.entries(report.perRelation);
    const relRows: string[][] = [['relation (boundaries)', 'gold', 'P', 'R', 'F1']];
    for (const [name, r] of entries.slice(0, maxRelations)) {
      relRows.push([name, String(r.gold), pct(r.boundaries.precision), pct(r.boundaries.recall), pct(r.boundaries.f1)]);
    }
    lines.push('', pad(relRows));
    if (entries.length > maxRelations) lines.push(`(${entries.length - maxRelations} more relations in the JSON report)`);
  }
  if (c.patchedWindows + c.droppedCandidates + c.truncatedCandidateTitles + c.splitWindows + c.droppedMentions > 0) {
    lines.push(
      '',
      `truncation: ${c.patchedWindows} patched windows, ${c.droppedCandidates} dropped candidates, ` +
        `${c.truncatedCandidateTitles} truncated titles, ${c.splitWindows} split windows, ${c.droppedMentions} dropped mentions`,
    );
  }
  const issues = report.datasetIssues?.counts;
  if (issues && Object.keys(issues).length > 0) {
    lines.push('', `dataset issues: ${Object.entries(issues).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return lines.join('\n');
}
