/** The serving layer of ReLiK-TS: `startServer` (HTTP + micro-batching + worker pool) and corpus annotation. */
export { startServer, type RelikServer, type StartOptions } from './app.js';
export { defaultConfig, resolveConfig, type ServerConfig } from './config.js';
export { MicroBatcher, QueueFullError, batchKey, mergeRequests, type BatcherLimits, type BatcherStats, type Submission } from './batcher.js';
export { WorkerPool, RemoteError, WorkerCrashError, type BatchExecutor, type PoolOptions } from './pool.js';
export { HttpError, ERROR_STATUS, toHttpError, type ErrorBody, type ErrorType } from './errors.js';
export { parseAnnotateRequest, type AnnotateRequest, type RequestLimits } from './request.js';
export { readJsonBody, parseJsonBytes, type BodyLimits } from './body.js';
export { openApiDocument } from './openapi.js';
export { annotateCorpus, batchAnnotator, inspectOutput, readDocuments, countDocuments, formatSummary, CorpusError, type CorpusOptions, type CorpusDocument, type CorpusSummary, type OutputState, type ParsedLine, type BatchAnnotator } from './corpus.js';
export { ProgressBar, formatProgress, rate, type Progress } from './progress.js';
