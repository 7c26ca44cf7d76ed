import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's HTTP parser errors → the status a client should see. */
const STATUS_BY_CODE: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
};

/**
 * Requests that Node's HTTP parser refuses before any route sees them (a NUL or bare CR in a header, a lying or
 * doubled Content-Length, oversized headers) get Node's bare `400 Bad Request` with no body by default. This answers
 * them in OpenAI's error shape like every other error of the app, then closes the connection (the parser state is
 * unknown, so it cannot be reused).
 */
export function answerClientErrorsInOpenAiShape(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The client is gone, or a response already started on this socket: nothing can be said.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[err.code ?? ''] ?? 400;
    const body = JSON.stringify({
      error: {
        message: `The HTTP request could not be parsed (${err.code ?? 'malformed request'}).`,
        type: 'invalid_request_error',
        param: null,
        code: 'malformed_http_request',
      },
    });
    const reason =
      status === 431
        ? 'Request Header Fields Too Large'
        : status === 408
          ? 'Request Timeout'
          : status === 413
            ? 'Payload Too Large'
            : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
