#!/usr/bin/env node
// Load benchmark for `relik serve` on loopback, bounded in time: starts the built server (dist/) on
// 127.0.0.1 with a free port, runs N closed-loop clients for D seconds, prints throughput, latency
// percentiles and the mean micro-batch size, then stops the server with SIGTERM.
//
//   npm run build
//   node bench/load.mjs --bundle fixtures/bundles/tiny-cie --connections 16 --duration 10
//   node bench/load.mjs --max-batch 1            # micro-batching off, for comparison
//
// Only 127.0.0.1 is ever contacted. Requests are capped (--max-requests) as well as the time.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { availableParallelism, cpus } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: join(root, 'fixtures', 'bundles', 'tiny-cie') },
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string' },
    'max-batch': { type: 'string', default: '16' },
    'batch-wait-ms': { type: 'string', default: '1' },
    'max-requests': { type: 'string', default: '200000' },
    'return-candidates': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const int = (name, min, max) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
};
const connections = int('connections', 1, 512);
const duration = int('duration', 1, 120);
const warmup = int('warmup', 0, 30);
const maxRequests = int('max-requests', 1, 1_000_000);

const TEXTS = [
  'Marie Curie works for Acme Corporation in Paris.',
  'Alan Turing lived in London and worked with Ada Lovelace at Globex.',
  'Grace Hopper was born in New York and worked for the University of Oslo.',
  'The capital of Norway is Oslo, and Bergen lies on its west coast, far from Vienna and Dublin.',
  'Charles Darwin met Ada Lovelace in London; later Acme Corporation hired both of them in Paris.',
  'Kenya and France signed an agreement in Vienna with Wide World Importers and Cyberdyne Systems.',
];

function startServer() {
  const args = [join(root, 'dist', 'src', 'cli', 'serve.js'), '--bundle', values.bundle, '--host', '127.0.0.1', '--port', '0',
    '--max-batch', values['max-batch'], '--batch-wait-ms', values['batch-wait-ms'], '--max-queue', String(Math.max(256, connections * 2))];
  if (values.workers !== undefined) args.push('--workers', values.workers);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server not ready after 60 s: ${out}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      if (url !== undefined && out.includes('ready (')) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    });
  });
}

async function run(url, seconds, record) {
  const deadline = performance.now() + seconds * 1000;
  const latencies = [];
  const statuses = new Map();
  let sent = 0;
  const options = values['return-candidates'] ? { returnCandidates: true } : {};
  async function client(id) {
    let k = id;
    while (performance.now() < deadline && sent < maxRequests) {
      sent += 1;
      const text = TEXTS[k++ % TEXTS.length];
      const t0 = performance.now();
      let status;
      try {
        const response = await fetch(`${url}/annotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text, options }) });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        status = 'error';
      }
      if (record) {
        latencies.push(performance.now() - t0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, (_, i) => client(i)));
  return { seconds: (performance.now() - t0) / 1000, latencies, statuses };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const { child, url } = await startServer();
try {
  if (warmup > 0) await run(url, warmup, false);
  const before = await (await fetch(`${url}/ready`)).json();
  const { seconds, latencies, statuses } = await run(url, duration, true);
  const after = await (await fetch(`${url}/ready`)).json();
  const sorted = [...latencies].sort((a, b) => a - b);
  const ok = statuses.get(200) ?? 0;
  const batches = after.queue.batches - before.queue.batches;
  const requests = after.queue.requests - before.queue.requests;
  const report = {
    bundle: after.bundle.name,
    workers: after.workers,
    maxBatch: Number(values['max-batch']),
    batchWaitMs: Number(values['batch-wait-ms']),
    connections,
    seconds: Number(seconds.toFixed(2)),
    requests: latencies.length,
    ok,
    statuses: Object.fromEntries(statuses),
    requestsPerSecond: Number((ok / seconds).toFixed(1)),
    latencyMs: { p50: Number(pct(sorted, 50).toFixed(1)), p90: Number(pct(sorted, 90).toFixed(1)), p99: Number(pct(sorted, 99).toFixed(1)), max: Number((sorted.at(-1) ?? NaN).toFixed(1)) },
    meanBatchTexts: batches > 0 ? Number(((after.queue.texts - before.queue.texts) / batches).toFixed(2)) : 0,
    meanBatchRequests: batches > 0 ? Number((requests / batches).toFixed(2)) : 0,
    machine: `${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores, Node ${process.version}`,
  };
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`bundle ${report.bundle}, ${report.workers} workers, max batch ${report.maxBatch}, wait ${report.batchWaitMs} ms, ${connections} connections, ${report.seconds} s`);
    console.log(`requests ${report.requests} (ok ${ok}; statuses ${JSON.stringify(report.statuses)})  ${report.requestsPerSecond} req/s`);
    console.log(`latency ms: p50 ${report.latencyMs.p50}  p90 ${report.latencyMs.p90}  p99 ${report.latencyMs.p99}  max ${report.latencyMs.max}`);
    console.log(`mean batch: ${report.meanBatchTexts} texts from ${report.meanBatchRequests} requests`);
    console.log(`machine: ${report.machine}`);
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}
