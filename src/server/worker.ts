/**
 * Model worker: one `Relik` instance (one ONNX session set) per thread. Receives annotate jobs from the
 * pool, answers with results or a {name, message} error. Never throws out of the message loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Relik } from '../relik.js';
import { toWireError, type FromWorker, type ToWorker, type WorkerData } from './protocol.js';

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.js must run inside a worker thread');
  const post = (message: FromWorker): void => port.postMessage(message);
  const data = workerData as WorkerData;
  let relik: Relik;
  try {
    relik = await Relik.load(data.bundle, { threads: data.threads });
  } catch (error) {
    post({ type: 'load-error', error: toWireError(error) });
    return;
  }
  post({ type: 'ready', info: { name: relik.name, task: relik.task, entityCount: relik.entityCount } });
  // One job at a time: the pool never sends a second before the first is answered, but a queue keeps that safe.
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    chain = chain.then(async () => {
      if (message.type === 'close') {
        await relik.close();
        post({ type: 'closed' });
        port.close();
        return;
      }
      try {
        const results = await relik.annotate(message.inputs, message.options);
        post({ type: 'result', id: message.id, results });
      } catch (error) {
        post({ type: 'error', id: message.id, error: toWireError(error) });
      }
    });
  });
}

void serve();
