import type { RelikResult } from '../types.js';

/** Human-readable rendering of one result, for terminals. */
export function formatResult(result: RelikResult, title?: string): string {
  const lines: string[] = [];
  if (title !== undefined) lines.push(`# ${title}`);
  lines.push(result.text.length > 200 ? `${result.text.slice(0, 200)}…` : result.text, '');
  if (result.spans.length === 0) lines.push('  (no entity mentions found)');
  for (const span of result.spans) {
    const link = span.id === null ? span.label : `${span.label} [${span.id}]`;
    const below = span.belowThreshold === undefined ? '' : `; below the link threshold: ${span.belowThreshold.label} [${span.belowThreshold.id}] ${span.belowThreshold.score.toFixed(2)}`;
    lines.push(`  ${span.start}-${span.end}  ${JSON.stringify(span.text)} -> ${link}  (${span.score.toFixed(2)}${below})`);
  }
  if (result.triplets.length > 0) lines.push('', '  Relations:');
  for (const t of result.triplets) {
    const subject = result.spans[t.subject]?.text ?? '?';
    const object = result.spans[t.object]?.text ?? '?';
    lines.push(`  ${JSON.stringify(subject)} --${t.relation}--> ${JSON.stringify(object)}  (${t.score.toFixed(2)})`);
  }
  const tr = result.truncation;
  const notes = Object.entries(tr).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`);
  if (notes.length > 0) lines.push('', `  note: ${notes.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
