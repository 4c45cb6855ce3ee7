// ReLiK web page: sends the text to POST /annotate and shows mentions, entities, candidates and relations.
// Plain browser JavaScript, no build step, no external resources. All text goes in via textContent.

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const NME = '--NME--';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'style') Object.assign(node.style, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A distinct pastel colour per entity label (same label, same colour). */
function colour(label, alpha = 1) {
  let h = 0;
  for (const c of label) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsla(${h}, 70%, ${alpha === 1 ? 45 : 85}%, ${alpha})`;
}

const fmt = (score) => (typeof score === 'number' && Number.isFinite(score) ? score.toFixed(2) : '—');

async function loadStatus() {
  const status = $('status');
  try {
    const response = await fetch('/ready');
    const body = await response.json();
    if (!response.ok) throw new Error(body.error?.message ?? response.statusText);
    status.textContent = `${body.bundle.name} · ${body.bundle.task} · ${body.workers} worker${body.workers === 1 ? '' : 's'}`;
    status.className = 'status ready';
    const tasks = body.bundle.task === 'cie' ? ['cie', 'el', 're'] : [body.bundle.task];
    $('task').replaceChildren(...tasks.map((t) => el('option', { value: t }, t)));
    return true;
  } catch (error) {
    status.textContent = `not ready: ${error.message}`;
    status.className = 'status down';
    return false;
  }
}

function options() {
  const o = { returnCandidates: true };
  const task = $('task').value;
  if (task) o.task = task;
  const topK = $('topK').value;
  if (topK !== '') o.topK = Number(topK);
  const threshold = $('threshold').value;
  if (threshold !== '') o.relationThreshold = Number(threshold);
  if ($('keepNme').checked) o.keepNme = true;
  if (!$('names').checked) {
    o.aliasTopK = 0;
    o.aliasPriorWeight = 0;
  }
  return o;
}

/** Entity candidates of the windows that contain the span, best score first, without repeats. */
function candidatesFor(result, span) {
  const seen = new Map();
  for (const w of result.windows ?? []) {
    if (w.start > span.start || w.end < span.end) continue;
    for (const c of w.entityCandidates ?? []) {
      const prev = seen.get(c.id);
      if (prev === undefined || (c.score ?? -Infinity) > (prev.score ?? -Infinity)) seen.set(c.id, c);
    }
  }
  return [...seen.values()].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
}

function showTooltip(event, result, span) {
  const tip = $('tooltip');
  const list = el('ol');
  for (const c of candidatesFor(result, span).slice(0, 10)) {
    list.append(el('li', c.id === span.id ? { class: 'chosen' } : {}, c.title, el('span', { class: 'score' }, fmt(c.score))));
  }
  tip.replaceChildren(
    el('div', { class: 'head' }, `${span.text} → ${span.label}`),
    el('div', {}, `id ${span.id ?? '—'} · score ${fmt(span.score)}`),
    span.belowThreshold ? el('div', { class: 'score' }, `below the link threshold: ${span.belowThreshold.label} ${fmt(span.belowThreshold.score)}`) : '',
    list.childElementCount > 0 ? el('div', { style: { marginTop: '.35rem' } }, 'Candidates:', list) : el('div', { class: 'score' }, 'no candidates for this task'),
  );
  tip.hidden = false;
  moveTooltip(event);
}

function moveTooltip(event) {
  const tip = $('tooltip');
  const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
  const y = Math.min(event.clientY + 16, window.innerHeight - tip.offsetHeight - 8);
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

function renderText(result) {
  const out = $('annotated');
  out.replaceChildren();
  let at = 0;
  // Spans do not overlap; keep them in text order.
  const spans = result.spans.map((s, i) => ({ ...s, index: i })).sort((a, b) => a.start - b.start);
  for (const span of spans) {
    if (span.start < at) continue;
    out.append(result.text.slice(at, span.start));
    const nme = span.label === NME;
    const mark = el(
      'mark',
      { class: nme ? 'mention nme' : 'mention', 'data-span': String(span.index), style: { background: colour(span.label, 0.35), borderColor: colour(span.label) } },
      result.text.slice(span.start, span.end),
      el('span', { class: 'tag' }, `${nme ? 'NME' : span.label} ${fmt(span.score)}`),
    );
    mark.addEventListener('mouseenter', (e) => showTooltip(e, result, span));
    mark.addEventListener('mousemove', moveTooltip);
    mark.addEventListener('mouseleave', () => ($('tooltip').hidden = true));
    out.append(mark);
    at = span.end;
  }
  out.append(result.text.slice(at));
}

function renderTable(result) {
  const body = $('spans').tBodies[0];
  body.replaceChildren(
    ...result.spans.map((s) =>
      el('tr', {},
        el('td', {}, s.text),
        el('td', {}, s.label === NME ? el('span', { class: 'muted' }, s.belowThreshold ? `NME (below the link threshold: ${s.belowThreshold.label} ${fmt(s.belowThreshold.score)})` : 'not in KB') : `${s.label} `, s.id ? el('span', { class: 'muted small' }, s.id) : ''),
        el('td', {}, el('span', { class: 'bar', style: { width: `${Math.round(s.score * 60)}px` } }), fmt(s.score)),
      ),
    ),
  );
  if (result.spans.length === 0) body.append(el('tr', {}, el('td', { colspan: '3', class: 'muted' }, 'no mentions found')));
}

function renderTriplets(result) {
  const list = $('triplets');
  list.replaceChildren(
    ...result.triplets.map((t) =>
      el('li', {}, result.spans[t.subject].text, ' ', el('span', { class: 'rel' }, `—${t.relation}→`), ' ', result.spans[t.object].text, el('span', { class: 'muted' }, `  ${fmt(t.score)}`)),
    ),
  );
  if (result.triplets.length === 0) list.append(el('li', { class: 'muted' }, 'no relations above the threshold'));
  renderGraph(result);
}

/** Nodes on a circle, one arrow per triplet, curved so that A→B and B→A stay apart. */
function renderGraph(result) {
  const graph = $('graph');
  graph.replaceChildren();
  const used = [...new Set(result.triplets.flatMap((t) => [t.subject, t.object]))];
  graph.hidden = used.length === 0;
  if (used.length === 0) return;
  // The circle grows with the number of nodes so that labels keep apart.
  const R = Math.max(90, used.length * 20), W = 2 * R + 260, H = 2 * R + 90;
  graph.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const pos = new Map(used.map((s, k) => {
    const a = (2 * Math.PI * k) / used.length - Math.PI / 2;
    return [s, { x: W / 2 + (used.length === 1 ? 0 : R * Math.cos(a)), y: H / 2 + (used.length === 1 ? 0 : R * Math.sin(a)) }];
  }));
  const defs = svg('defs');
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#3a5bd9' }));
  defs.append(marker);
  graph.append(defs);
  const NODE_R = 20;
  for (const t of result.triplets) {
    const a = pos.get(t.subject), b = pos.get(t.object);
    if (t.subject === t.object) continue;
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const ux = dx / len, uy = dy / len;
    const sx = a.x + ux * NODE_R, sy = a.y + uy * NODE_R, ex = b.x - ux * (NODE_R + 2), ey = b.y - uy * (NODE_R + 2);
    const cx = (sx + ex) / 2 - uy * 28, cy = (sy + ey) / 2 + ux * 28;
    graph.append(svg('path', { d: `M${sx},${sy} Q${cx},${cy} ${ex},${ey}`, fill: 'none', stroke: '#3a5bd9', 'stroke-width': 1.6, 'marker-end': 'url(#arrow)', opacity: 0.85 }));
    const label = svg('text', { x: (sx + 2 * cx + ex) / 4, y: (sy + 2 * cy + ey) / 4 - 3, 'text-anchor': 'middle', 'font-size': 11, fill: '#3a5bd9', 'paint-order': 'stroke', stroke: '#fbfcfd', 'stroke-width': 3 }, `${t.relation} ${fmt(t.score)}`);
    graph.append(label);
  }
  for (const [s, p] of pos) {
    const span = result.spans[s];
    graph.append(svg('circle', { cx: p.x, cy: p.y, r: NODE_R, fill: colour(span.label, 0.35), stroke: colour(span.label), 'stroke-width': 2 }));
    const name = span.text.length > 22 ? `${span.text.slice(0, 21)}…` : span.text;
    graph.append(svg('text', { x: p.x, y: p.y + NODE_R + 14, 'text-anchor': 'middle', 'font-size': 12, 'font-weight': 600, fill: '#1d2330' }, name));
    if (span.label !== NME) graph.append(svg('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', 'font-size': 9, fill: '#1d2330' }, span.label.length > 10 ? `${span.label.slice(0, 9)}…` : span.label));
  }
}

function renderTruncation(result) {
  const t = result.truncation;
  const notes = Object.entries(t).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`);
  $('truncation').hidden = notes.length === 0;
  $('truncation').textContent = notes.length === 0 ? '' : `Truncation: ${notes.join(', ')}`;
}

async function annotate(event) {
  event?.preventDefault();
  const button = $('submit');
  const error = $('error');
  button.disabled = true;
  error.hidden = true;
  const started = performance.now();
  try {
    const response = await fetch('/annotate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: $('text').value, options: options() }) });
    const body = await response.json();
    if (!response.ok) throw new Error(`${body.error?.type ?? response.status}: ${body.error?.message ?? response.statusText}`);
    const result = body.result;
    $('timing').textContent = `· ${result.spans.length} mentions, ${result.triplets.length} relations, ${Math.round(performance.now() - started)} ms`;
    renderText(result);
    renderTable(result);
    renderTriplets(result);
    renderTruncation(result);
    $('output').hidden = false;
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

$('form').addEventListener('submit', annotate);
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) annotate(e);
});
// Poll until the model is loaded (the server answers /ready with 503 while the workers load).
(async function waitReady(attempt = 0) {
  if (!(await loadStatus()) && attempt < 120) setTimeout(() => waitReady(attempt + 1), 1000);
})();
