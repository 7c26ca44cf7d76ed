/**
 * The one mapping of request-body failures to what the client did wrong, for both HTTP platforms: Express's
 * body-parser (`err.type`, raw `err.body`, `err.length`/`err.limit`) and Fastify's content-type parser (`err.code`
 * FST_ERR_CTP_*, JSON SyntaxErrors with `statusCode` 400). Nest's Express adapter wraps these in an HttpException
 * with the original as `cause`; the caller passes either.
 */
export interface BodyParseFailure {
  status: number;
  message: string;
  code: string;
}

interface ParserErrorLike {
  type?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  message?: unknown;
  body?: unknown;
  length?: unknown;
  limit?: unknown;
  cause?: unknown;
}

/** `limitBytes` and `contentLength` fill in what Fastify's errors do not carry. */
export function bodyParseFailure(
  exception: unknown,
  context: { limitBytes?: number; contentLength?: string | string[] } = {},
): BodyParseFailure | undefined {
  const err = unwrap(exception);
  if (!err) return undefined;
  const kind = kindOf(err);
  switch (kind) {
    case 'json': {
      const detail = String(err.message ?? '')
        .replace(/\s*in JSON at position \d+.*$/s, '')
        .replace(/^Unexpected end of JSON input$/, 'the JSON text ends before it is complete');
      return {
        status: 400,
        message: `We could not parse the JSON body of your request${where(err)}: ${detail}.`,
        code: 'invalid_json',
      };
    }
    case 'too-large': {
      const length = Number(err.length ?? [context.contentLength].flat()[0]);
      const limit = Number(err.limit ?? context.limitBytes);
      const size = Number.isFinite(length) && length > 0 ? `${length} bytes` : 'more bytes than allowed';
      const max = Number.isFinite(limit) ? `, limit is ${limit} bytes` : '';
      return { status: 413, message: `Request body too large: ${size}${max}.`, code: 'request_too_large' };
    }
    case 'empty':
      return { status: 400, message: 'The request body is empty; send a JSON object.', code: 'invalid_json' };
    case 'encoding':
      return { status: 415, message: String(err.message), code: 'unsupported_encoding' };
    case 'media-type':
      return {
        status: 415,
        message: 'Unsupported Content-Type: send the body as application/json.',
        code: 'unsupported_media_type',
      };
    case 'aborted':
      return {
        status: 400,
        message: 'The request was aborted while its body was being read.',
        code: 'request_aborted',
      };
    case 'size-mismatch':
      return {
        status: 400,
        message: 'The request body did not match its Content-Length.',
        code: 'invalid_content_length',
      };
    default:
      return undefined;
  }
}

type Kind = 'json' | 'too-large' | 'empty' | 'encoding' | 'media-type' | 'aborted' | 'size-mismatch';

function kindOf(err: ParserErrorLike): Kind | undefined {
  switch (err.type ?? err.code) {
    case 'entity.parse.failed':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'json';
    case 'entity.too.large':
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'too-large';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'empty';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'encoding';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'media-type';
    case 'request.aborted':
      return 'aborted';
    case 'request.size.invalid':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'size-mismatch';
  }
  // Fastify's JSON parser throws JSON.parse's own SyntaxError with a 400 statusCode.
  if (err instanceof SyntaxError && (err as ParserErrorLike).statusCode === 400) return 'json';
  return undefined;
}

function unwrap(exception: unknown): ParserErrorLike | undefined {
  if (typeof exception !== 'object' || exception === null) return undefined;
  const err = exception as ParserErrorLike;
  if (kindOf(err)) return err;
  const cause = err.cause as ParserErrorLike | undefined;
  return typeof cause === 'object' && cause !== null && kindOf(cause) ? cause : undefined;
}

/** ` at line 1, column 12` from JSON.parse's position (or the end of the body for a truncated one). */
function where(err: ParserErrorLike): string {
  const message = String(err.message ?? '');
  const body = typeof err.body === 'string' ? err.body : undefined;
  const explicit = /line (\d+) column (\d+)/.exec(message);
  if (explicit) return ` at line ${explicit[1]}, column ${explicit[2]}`;
  const position = /position (\d+)/.exec(message);
  const offset = position
    ? Number(position[1])
    : /end of JSON input/.test(message)
      ? body?.length
      : undefined;
  if (offset === undefined || body === undefined) return '';
  const before = body.slice(0, offset).split('\n');
  return ` at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}
