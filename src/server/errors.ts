/**
 * HTTP errors of the server. Every error response has the body `{"error": {"type", "message"}}`;
 * `type` is a stable machine-readable name, `message` a sentence for people.
 */

/** Error types the server answers with, and their status codes. */
export const ERROR_STATUS = {
  InvalidJSON: 400,
  InvalidUTF8: 400,
  InvalidRequest: 400,
  InvalidOption: 400,
  EmptyText: 400,
  NotFound: 404,
  MethodNotAllowed: 405,
  RequestTimeout: 408,
  PayloadTooLarge: 413,
  TextTooLong: 413,
  TooManyTexts: 413,
  UnsupportedMediaType: 415,
  InternalError: 500,
  Overloaded: 503,
  Timeout: 503,
  NotReady: 503,
  ShuttingDown: 503,
} as const;

/** The `error.type` values of error responses. */
export type ErrorType = keyof typeof ERROR_STATUS;

/** The JSON body of an error response. */
export interface ErrorBody {
  readonly error: { readonly type: ErrorType; readonly message: string };
}

/** An error with its HTTP status; thrown by request handling, turned into a JSON response by the server. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  constructor(
    readonly type: ErrorType,
    message: string,
    /** Close the connection after answering (the request body was not read to its end). */
    readonly closeConnection = false,
  ) {
    super(message);
    this.status = ERROR_STATUS[type];
  }

  get body(): ErrorBody {
    return { error: { type: this.type, message: this.message } };
  }
}

/** Fastify's own client errors (by `code`) mapped to ours; anything else unknown becomes a 500. */
const FASTIFY_CODES: Record<string, ErrorType> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UnsupportedMediaType',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PayloadTooLarge',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'InvalidJSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'InvalidRequest',
  FST_ERR_CTP_INVALID_TYPE: 'InvalidRequest',
  FST_ERR_BAD_URL: 'InvalidRequest',
  FST_ERR_ASYNC_CONSTRAINT: 'InvalidRequest',
};

/**
 * Converts anything a handler threw into an `HttpError`. Library input errors (TypeError/RangeError,
 * also from a worker) are the client's fault: 400. Everything unexpected is a 500 without internals.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as { name?: unknown; message?: unknown; code?: unknown; statusCode?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (typeof e?.code === 'string' && e.code in FASTIFY_CODES) {
    const type = FASTIFY_CODES[e.code] as ErrorType;
    return new HttpError(type, type === 'UnsupportedMediaType' ? 'Content-Type must be application/json (UTF-8)' : message, true);
  }
  if (e?.name === 'TypeError' || e?.name === 'RangeError') return new HttpError('InvalidOption', message);
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new HttpError('InvalidRequest', message, true);
  return new HttpError('InternalError', 'internal server error; the request was not completed');
}
