/** The OpenAPI 3.1 description served at `GET /openapi.json`. */
import { ERROR_STATUS } from './errors.js';
import type { ServerConfig } from './config.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema): Schema => ({ 'application/json': { schema } });

function errorResponse(description: string): Schema {
  return { description, content: json(ref('Error')) };
}

/** Builds the document; limits from `config` appear in the schemas. */
export function openApiDocument(config: ServerConfig, version: string): Schema {
  const candidate: Schema = {
    type: 'object',
    required: ['id', 'title', 'score'],
    properties: { id: { type: 'string' }, title: { type: 'string' }, score: { type: ['number', 'null'], description: 'retriever score; null for given candidates' } },
  };
  const document: Schema = {
    type: 'string',
    minLength: 1,
    maxLength: config.maxTextLength,
  };
  const documentInput: Schema = {
    oneOf: [
      document,
      {
        type: 'object',
        required: ['text'],
        properties: {
          text: document,
          words: { type: 'array', items: { type: 'object', required: ['text', 'start', 'end'], properties: { text: { type: 'string' }, start: { type: 'integer' }, end: { type: 'integer' } } } },
        },
      },
    ],
  };
  const given = { type: 'array', items: { type: 'object', required: ['id', 'title'], properties: { id: { type: 'string' }, title: { type: 'string', minLength: 1 } } } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'ReLiK-TS server',
      version,
      description: 'Entity linking and relation extraction (ReLiK). Requests from all clients are micro-batched into shared forward passes; results equal those of single requests.',
    },
    paths: {
      '/annotate': {
        post: {
          summary: 'Annotate one text or several texts',
          requestBody: { required: true, content: json(ref('AnnotateRequest')) },
          responses: {
            200: { description: '`result` for a `text` request, `results` (in order) for a `texts` request', content: json(ref('AnnotateResponse')) },
            400: errorResponse('Bad input: invalid JSON or UTF-8, wrong types, unknown fields or options, empty text'),
            408: errorResponse('The body did not arrive in time'),
            413: errorResponse(`Body over ${config.bodyLimit} bytes, a text over ${config.maxTextLength} characters, or over ${config.maxTexts} texts`),
            415: errorResponse('Content-Type is not application/json'),
            503: errorResponse('Overloaded (queue full; see Retry-After), timed out, not ready, or shutting down'),
          },
        },
      },
      '/health': { get: { summary: 'Liveness: the process answers', responses: { 200: { description: 'alive', content: json({ type: 'object', properties: { status: { const: 'ok' } } }) } } } },
      '/ready': {
        get: {
          summary: 'Readiness: the model is loaded in every worker',
          responses: { 200: { description: 'ready', content: json(ref('Ready')) }, 503: errorResponse('still loading, or shutting down') },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1 document' } } } },
      '/': { get: { summary: 'Web page to try the model', responses: { 200: { description: 'HTML page' } } } },
    },
    components: {
      schemas: {
        AnnotateRequest: {
          type: 'object',
          additionalProperties: false,
          properties: {
            text: documentInput,
            texts: { type: 'array', minItems: 1, maxItems: config.maxTexts, items: documentInput },
            options: ref('AnnotateOptions'),
          },
          oneOf: [{ required: ['text'] }, { required: ['texts'] }],
        },
        AnnotateOptions: {
          type: 'object',
          additionalProperties: false,
          properties: {
            task: { enum: ['el', 're', 'cie'], description: 'narrow a cie bundle to el or re' },
            topK: { type: 'integer', minimum: 1 },
            aliasTopK: { type: 'integer', minimum: 0, description: 'of the topK entity candidates, how many may be entries the window names (KB titles, aliases); 0 = off' },
            aliasPriorWeight: { type: 'number', minimum: 0, description: 'weight of p(entity | mention text) from KB names in linking; 0 = the reader alone' },
            linkThreshold: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'links less probable than this are NME; 0 = every best entity is linked' },
            relationTopK: { type: 'integer', minimum: 1 },
            windowSize: { type: 'integer', minimum: 1 },
            windowStride: { type: 'integer', minimum: 1 },
            relationThreshold: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
            relationsPerPair: { type: 'integer', minimum: 0 },
            returnCandidates: { type: 'boolean' },
            returnWindows: { type: 'boolean' },
            keepNme: { type: 'boolean' },
            useDocTopic: { type: 'boolean' },
            mentions: { type: 'array', description: 'one list of {start, end} per text', items: { type: 'array', items: { type: 'object', required: ['start', 'end'], properties: { start: { type: 'integer' }, end: { type: 'integer' } } } } },
            entityCandidates: given,
            relationCandidates: given,
          },
        },
        AnnotateResponse: {
          type: 'object',
          properties: { result: ref('Result'), results: { type: 'array', items: ref('Result') } },
        },
        Result: {
          type: 'object',
          required: ['text', 'spans', 'triplets', 'truncation'],
          properties: {
            text: { type: 'string' },
            spans: {
              type: 'array',
              items: {
                type: 'object',
                required: ['start', 'end', 'text', 'label', 'id', 'score'],
                properties: {
                  start: { type: 'integer', description: 'UTF-16 offset' },
                  end: { type: 'integer', description: 'UTF-16 offset, exclusive' },
                  text: { type: 'string' },
                  label: { type: 'string', description: 'KB title or --NME--' },
                  id: { type: ['string', 'null'] },
                  score: { type: 'number', minimum: 0, maximum: 1 },
                  belowThreshold: {
                    type: 'object',
                    description: 'NME spans made NME by linkThreshold only: the entity without it, and its probability',
                    required: ['id', 'label', 'score'],
                    properties: { id: { type: 'string' }, label: { type: 'string' }, score: { type: 'number', minimum: 0, maximum: 1 } },
                  },
                },
              },
            },
            triplets: {
              type: 'array',
              items: {
                type: 'object',
                required: ['subject', 'relation', 'relationId', 'object', 'score'],
                properties: { subject: { type: 'integer', description: 'index into spans' }, relation: { type: 'string' }, relationId: { type: 'string' }, object: { type: 'integer' }, score: { type: 'number' } },
              },
            },
            truncation: { type: 'object', additionalProperties: { type: 'integer' } },
            windows: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  firstWord: { type: 'integer' }, endWord: { type: 'integer' }, start: { type: 'integer' }, end: { type: 'integer' }, passes: { type: 'integer' },
                  entityCandidates: { type: 'array', items: candidate }, relationCandidates: { type: 'array', items: candidate },
                },
              },
            },
          },
        },
        Ready: {
          type: 'object',
          properties: {
            status: { const: 'ready' },
            bundle: { type: 'object', properties: { name: { type: 'string' }, task: { enum: ['el', 're', 'cie'] }, entityCount: { type: 'integer' } } },
            workers: { type: 'integer' },
            queue: { type: 'object', properties: { queued: { type: 'integer' }, running: { type: 'integer' }, batches: { type: 'integer' }, requests: { type: 'integer' }, texts: { type: 'integer' } } },
            limits: { type: 'object', additionalProperties: { type: 'integer' } },
          },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['type', 'message'],
              properties: { type: { enum: Object.keys(ERROR_STATUS) }, message: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}
