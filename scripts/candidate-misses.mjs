// Lists the gold links of an AIDA split that are not among their windows' entity candidates (window recall misses),
// with the window's first candidates, as JSONL; prints the window recall. Needs `npm run build` first.
//   node scripts/candidate-misses.mjs <bundle> <testa|testb|train> <out.jsonl> [--data-root DIR]
import { writeFileSync } from 'node:fs';
import { Relik } from '../dist/src/index.js';
import { dataRoot, loadDataset } from '../dist/src/data/registry.js';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--data-root');
const root = dataRoot(rootAt >= 0 ? args.splice(rootAt, 2)[1] : undefined);
const [bundle, split, out] = args;
if (!bundle || !['testa', 'testb', 'train'].includes(split ?? '') || !out) {
  console.error('usage: node scripts/candidate-misses.mjs <bundle> <testa|testb|train> <out.jsonl> [--data-root DIR]');
  process.exit(2);
}
const relik = await Relik.load(bundle);
const docs = await loadDataset(`aida:${split}`, { root });
const rows = [];
let pairs = 0;
for (let i = 0; i < docs.length; i += 8) {
  const batch = docs.slice(i, i + 8);
  const inputs = batch.map((d) => (d.words ? { text: d.text, words: d.words } : { text: d.text }));
  const results = await relik.annotate(inputs, { returnCandidates: true, returnWindows: true, keepNme: true });
  batch.forEach((doc, j) => {
    for (const span of doc.spans) {
      if (!span.label || span.label === '--NME--') continue;
      for (const w of results[j].windows ?? []) {
        if (span.start < w.start || span.end > w.end) continue;
        pairs += 1;
        const titles = (w.entityCandidates ?? []).map((c) => c.title);
        if (!titles.includes(span.label)) rows.push({ doc: doc.id, mention: doc.text.slice(span.start, span.end), gold: span.label, candidates: titles.slice(0, 8) });
      }
    }
  });
}
await relik.close();
writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
console.log(`window recall ${(100 * (pairs - rows.length) / pairs).toFixed(2)} (${pairs - rows.length} of ${pairs} window-gold pairs); ${rows.length} misses in ${out}`);
