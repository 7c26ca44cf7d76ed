import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { parseCacheControl, type CacheControl } from '@llm-cache/llm';
import { ApiError } from '../common/api-error.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { secretEquals } from './secret-compare.js';

/** Where a refresh of shared entries presents the admin token (Authorization already carries the tenant's key). */
export const ADMIN_TOKEN_HEADER = 'x-admin-token';

/**
 * With CACHE_SHARE_ACROSS_TENANTS one entry answers every tenant, so a `no-cache` refresh would let any caller
 * re-roll a sampled answer until it likes one and pin it for everybody: such a refresh needs the admin token. Without
 * sharing, keys carry the tenant and a refresh only ever replaces the caller's own entry, so anyone may refresh.
 */
@Injectable()
export class SharedRefreshGuard implements CanActivate {
  constructor(@InjectChatbotConfig() protected readonly config: ChatbotConfig) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.config.shareAcrossTenants) return true;
    const request = context.switchToHttp().getRequest<HttpRequest>();
    if (!this.asksRefresh(request)) return true;
    const token = request.headers[ADMIN_TOKEN_HEADER];
    const expected = this.config.adminToken;
    if (expected && typeof token === 'string' && secretEquals(token, expected)) return true;
    throw new ApiError(
      403,
      'Cache entries are shared across tenants here: a refresh (Cache-Control: no-cache) needs the admin token in ' +
        `${ADMIN_TOKEN_HEADER}.`,
      'permission_error',
      null,
      'refresh_requires_admin',
    );
  }

  /** The LLM cache's own parser (header + body `cache`); a malformed control is left to it to report as a 400. */
  private asksRefresh(request: HttpRequest): boolean {
    const body = request.body as { cache?: unknown } | undefined;
    let control: CacheControl;
    try {
      control = parseCacheControl(request.headers['cache-control'], body?.cache);
    } catch {
      return false;
    }
    return control.noCache === true;
  }
}
