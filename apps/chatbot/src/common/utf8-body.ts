import { isUtf8 } from 'node:buffer';

/**
 * body-parser `verify` hook: a JSON body must be valid UTF-8 (RFC 8259). Without it the decoder silently turns
 * invalid bytes into U+FFFD, and a request the client never meant to send is answered, cached and billed.
 */
export function rejectInvalidUtf8(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) {
    throw Object.assign(new Error('The request body is not valid UTF-8.'), {
      status: 400,
      statusCode: 400,
      expose: true,
    });
  }
}
