/**
 * The HTTP server on 127.0.0.1 (ephemeral ports), with real worker threads and the tiny random-weight
 * bundles: micro-batched results equal single-request results, bad requests get JSON errors and never
 * take the server down, overload gives 503, and shutdown finishes in-flight requests.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelikServer } from '../../src/server/index.js';
import type { RelikResult } from '../../src/types.js';
import { TEXTS, bundle, ensureBuilt, get, post, relikModule, serveCli, serverModule, type ErrorReply } from './helpers.js';

interface Annotated {
  readonly result?: RelikResult;
  readonly results?: RelikResult[];
}

/** Compares results; retriever scores of candidates may differ by float32 rounding when the batch differs. */
function expectSameResult(actual: RelikResult, expected: RelikResult): void {
  const strip = (r: RelikResult) => ({ ...r, windows: r.windows?.map((w) => ({ ...w, entityCandidates: w.entityCandidates?.map((c) => c.id), relationCandidates: w.relationCandidates?.map((c) => c.id) })) });
  expect(strip(actual)).toEqual(strip(expected));
  actual.windows?.forEach((w, i) => {
    const e = expected.windows?.[i];
    for (const [a, b] of [[w.entityCandidates, e?.entityCandidates], [w.relationCandidates, e?.relationCandidates]] as const) {
      a?.forEach((c, k) => {
        // Given (not retrieved) candidates have no score: NaN, which JSON carries as null.
        const expectedScore = b?.[k]?.score ?? null;
        if (expectedScore === null || c.score === null) expect(c.score).toBe(expectedScore);
        else expect(Math.abs(c.score - expectedScore)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(expectedScore)));
      });
    }
  });
}

/** A raw HTTP exchange on a socket (for bodies fetch cannot send: slow ones). Bounded by `timeoutMs`. */
function rawExchange(url: string, head: string, chunks: readonly string[], timeoutMs: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      for (const chunk of chunks) socket.write(chunk);
    });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(data)}`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on('error', () => undefined);
  });
}

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

describe('relik serve: API', () => {
  let server: RelikServer;
  let url: string;
  const baseline = new Map<string, RelikResult>();
  const baselineWithCandidates = new Map<string, RelikResult>();

  beforeAll(async () => {
    const { startServer } = await serverModule();
    server = await startServer({ bundle: bundle('tiny-cie'), port: 0, workers: 2, maxBatchTexts: 8, batchWaitMs: 25, bodyLimit: 64 * 1024, maxTextLength: 20_000, bodyTimeoutMs: 400 });
    url = server.url;
    await server.ready;
    // Single-request baselines from the library itself, one text per call.
    const { Relik } = await relikModule();
    const relik = await Relik.load(bundle('tiny-cie'), { threads: 1 });
    for (const text of TEXTS) {
      baseline.set(text, JSON.parse(JSON.stringify(await relik.annotate(text))) as RelikResult);
      baselineWithCandidates.set(text, JSON.parse(JSON.stringify(await relik.annotate(text, { returnCandidates: true }))) as RelikResult);
    }
    await relik.close();
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('answers /health, /ready and /openapi.json', async () => {
    expect((await get(`${url}/health`)).body).toEqual({ status: 'ok' });
    const ready = await get<{ status: string; bundle: { name: string; task: string }; workers: number }>(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', bundle: { name: 'relik-tiny-cie', task: 'cie' }, workers: 2 });
    const openapi = await get<{ openapi: string; paths: Record<string, unknown> }>(`${url}/openapi.json`);
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/annotate', '/health', '/ready', '/openapi.json']));
  });

  it('serves the web page and its assets', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/app.js">');
    expect(html).not.toMatch(/https?:\/\//); // no CDN: everything comes from this server
    expect((await fetch(`${url}/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${url}/style.css`)).status).toBe(200);
  });

  it('gives micro-batched concurrent requests the same results as single requests', async () => {
    const before = server.stats();
    const jobs: { texts: string[]; candidates: boolean; single: boolean }[] = [];
    for (let round = 0; round < 3; round++) {
      TEXTS.forEach((text, i) => jobs.push({ texts: [text], candidates: (i + round) % 3 === 0, single: i % 2 === 0 }));
      jobs.push({ texts: [TEXTS[round] as string, TEXTS[7 - round] as string], candidates: false, single: false });
    }
    const replies = await Promise.all(
      jobs.map((job) => {
        const options = job.candidates ? { returnCandidates: true } : {};
        return post<Annotated>(`${url}/annotate`, job.single ? { text: job.texts[0], options } : { texts: job.texts, options });
      }),
    );
    replies.forEach((reply, j) => {
      const job = jobs[j] as (typeof jobs)[number];
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      const results = job.single ? [reply.body.result as RelikResult] : (reply.body.results as RelikResult[]);
      expect(results).toHaveLength(job.texts.length);
      results.forEach((result, k) => {
        const text = job.texts[k] as string;
        expectSameResult(result, (job.candidates ? baselineWithCandidates : baseline).get(text) as RelikResult);
      });
    });
    const after = server.stats();
    const requests = after.requests - before.requests;
    const batches = after.batches - before.batches;
    expect(requests).toBe(jobs.length);
    expect(batches).toBeLessThan(requests); // requests really shared forward passes
  });

  it('answers every class of bad input with a JSON error and keeps serving', async () => {
    const cases: { body: string | Uint8Array; contentType?: string; status: number; type: string }[] = [
      { body: '{"text": "unterminated', status: 400, type: 'InvalidJSON' },
      { body: '', status: 400, type: 'InvalidJSON' },
      { body: Uint8Array.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), status: 400, type: 'InvalidUTF8' },
      { body: '[1, 2]', status: 400, type: 'InvalidRequest' },
      { body: '{"text": 5}', status: 400, type: 'InvalidRequest' },
      { body: '{"texts": "one"}', status: 400, type: 'InvalidRequest' },
      { body: '{"text": ""}', status: 400, type: 'EmptyText' },
      { body: '{"text": "Ada", "options": {"topK": -1}}', status: 400, type: 'InvalidOption' },
      { body: '{"text": "Ada", "options": {"unknownThing": true}}', status: 400, type: 'InvalidOption' },
      { body: '{"text": "Ada", "options": {"returnCandidates": "yes"}}', status: 400, type: 'InvalidOption' },
      { body: JSON.stringify({ text: 'a '.repeat(15_000) }), status: 413, type: 'TextTooLong' },
      { body: JSON.stringify({ text: 'x'.repeat(100_000) }), status: 413, type: 'PayloadTooLarge' },
      { body: 'text=Ada', contentType: 'application/x-www-form-urlencoded', status: 415, type: 'UnsupportedMediaType' },
    ];
    for (const c of cases) {
      const reply = await post<ErrorReply>(`${url}/annotate`, c.body, { raw: true, ...(c.contentType === undefined ? {} : { contentType: c.contentType }) });
      expect({ status: reply.status, type: reply.body.error?.type }, `${String(c.body).slice(0, 60)} -> ${JSON.stringify(reply.body)}`).toEqual({ status: c.status, type: c.type });
      expect(typeof reply.body.error.message).toBe('string');
      expect(reply.body.error.message.length).toBeGreaterThan(5);
    }
    const notFound = await get<ErrorReply>(`${url}/nope`);
    expect([notFound.status, notFound.body.error.type]).toEqual([404, 'NotFound']);
    const wrongMethod = await get<ErrorReply>(`${url}/annotate`);
    expect([wrongMethod.status, wrongMethod.body.error.type]).toEqual([405, 'MethodNotAllowed']);
    // Still healthy and still annotating.
    const ok = await post<Annotated>(`${url}/annotate`, { text: TEXTS[0] });
    expect(ok.status).toBe(200);
    expectSameResult(ok.body.result as RelikResult, baseline.get(TEXTS[0] as string) as RelikResult);
  });

  it('answers a client that sends its body too slowly with 408 while serving others', async () => {
    const body = JSON.stringify({ text: 'Ada Lovelace.' });
    const head = `POST /annotate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const slow = rawExchange(url, head, [body.slice(0, 5)], 5_000);
    const meanwhile = await post<Annotated>(`${url}/annotate`, { text: TEXTS[1] });
    expect(meanwhile.status).toBe(200);
    const answer = await slow;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"type":"RequestTimeout"');
  });
});

describe('relik serve: limits', () => {
  it('answers 503 Overloaded (with Retry-After) when the queue is full, and recovers', async () => {
    const { startServer } = await serverModule();
    const server = await startServer({ bundle: bundle('tiny-cie'), port: 0, workers: 1, maxQueue: 1, maxBatchTexts: 1, batchWaitMs: 0 });
    try {
      await server.ready;
      const long = 'Marie Curie works for Acme Corporation in Paris. '.repeat(150);
      let overloaded: { status: number; retryAfter: string | null; type: string } | undefined;
      let okCount = 0;
      for (let round = 0; round < 5 && overloaded === undefined; round++) {
        const replies = await Promise.all(Array.from({ length: 12 }, () => post<ErrorReply>(`${server.url}/annotate`, { text: long })));
        okCount += replies.filter((r) => r.status === 200).length;
        const refused = replies.find((r) => r.status !== 200);
        if (refused !== undefined) overloaded = { status: refused.status, retryAfter: refused.headers.get('retry-after'), type: refused.body.error.type };
      }
      expect(overloaded).toEqual({ status: 503, retryAfter: '1', type: 'Overloaded' });
      expect(okCount).toBeGreaterThan(0);
      expect((await post(`${server.url}/annotate`, { text: 'Ada.' })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('answers 503 Timeout when a request takes longer than the request timeout', async () => {
    const { startServer } = await serverModule();
    const server = await startServer({ bundle: bundle('tiny-cie'), port: 0, workers: 1, requestTimeoutMs: 1, batchWaitMs: 50 });
    try {
      await server.ready;
      const reply = await post<ErrorReply>(`${server.url}/annotate`, { text: 'Ada Lovelace lived in London.' });
      expect([reply.status, reply.body.error.type]).toEqual([503, 'Timeout']);
      expect((await get(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('says NotReady until the model is loaded', async () => {
    const { startServer } = await serverModule();
    const server = await startServer({ bundle: bundle('tiny-el'), port: 0, workers: 1 });
    try {
      // The first answer comes before the worker can have loaded the bundle (or just after): both are valid.
      const early = await get<ErrorReply | { status: string }>(`${server.url}/ready`);
      expect([200, 503]).toContain(early.status);
      if (early.status === 503) expect((early.body as ErrorReply).error.type).toBe('NotReady');
      await server.ready;
      expect((await get(`${server.url}/ready`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('fails to start with a clear error for a folder that is not a bundle', async () => {
    const { startServer } = await serverModule();
    await expect(startServer({ bundle: bundle('no-such-bundle'), port: 0, workers: 1 })).rejects.toThrow(/relik\.json is missing/);
  });
});

describe('relik serve: command line', () => {
  const serve = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [serveCli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('prints help, and exits 2 for bad flags and 1 for a bad bundle', async () => {
    const help = await serve(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: relik serve');
    const badPort = await serve(['--port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be an integer >= 0');
    const badBundle = await serve(['--bundle', bundle('no-such-bundle'), '--port', '0']);
    expect(badBundle.code).toBe(1);
    expect(badBundle.stderr).toContain('relik.json is missing');
  });
});

describe('relik serve: graceful shutdown', () => {
  it('on SIGTERM finishes in-flight requests, then exits 0', async () => {
    const child = spawn(process.execPath, [serveCli, '--bundle', bundle('tiny-cie'), '--port', '0', '--workers', '1', '--batch-wait-ms', '1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not get ready: ${stdout} ${stderr}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match !== null && stdout.includes('ready (')) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
    });
    try {
      // These wait 1.5 s in the batch queue, so they are in flight when SIGTERM arrives.
      const inFlight = TEXTS.slice(0, 3).map((text) => post<Annotated>(`${url}/annotate`, { text }));
      for (let i = 0; i < 100; i++) {
        const ready = await get<{ queue: { queued: number; running: number } }>(`${url}/ready`);
        if (ready.body.queue.queued + ready.body.queue.running >= 3) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGTERM');
      const replies = await Promise.all(inFlight);
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(replies.map((r) => r.body.result?.text)).toEqual(TEXTS.slice(0, 3));
      expect(await exited).toBe(0);
      expect(stdout).toContain('SIGTERM: finishing requests in flight');
      expect(stdout).toContain('relik serve: stopped');
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it('close() finishes the running requests, then stops listening', async () => {
    const { startServer } = await serverModule();
    const server = await startServer({ bundle: bundle('tiny-cie'), port: 0, workers: 1, batchWaitMs: 1500 });
    await server.ready;
    const inFlight = post<Annotated>(`${server.url}/annotate`, { text: TEXTS[0] });
    for (let i = 0; i < 200 && server.stats().queued === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.stats().queued).toBe(1);
    const closing = server.close();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.body.result?.text).toBe(TEXTS[0]);
    await closing;
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});
