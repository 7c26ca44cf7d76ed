/**
 * The page runs only its own files: no inline script or style, no third-party origin, fetches to this app only,
 * never framed. `img-src data:` is for the inline favicon.
 */
export const WEB_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
