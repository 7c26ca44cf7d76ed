import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig, TenantApiKey } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { bearerToken, secretEquals } from './secret-compare.js';

/** The tenant of every caller in open dev mode (no CHATBOT_API_KEYS). */
export const OPEN_MODE_TENANT = 'default';

/**
 * Resolves the caller's tenant from a server-side API key (`Authorization: Bearer <key>`) and puts it on
 * `request.tenant`, which the LLM cache interceptor uses to isolate cache entries. Tenants are never taken from
 * the client's word (a header or body field), only from the key.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@InjectChatbotConfig() protected readonly config: ChatbotConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    request.tenant = this.resolveTenant(request);
    return true;
  }

  /** Returns the tenant or throws a 401. Override to resolve tenants another way (JWT claims, mTLS, …). */
  protected resolveTenant(request: HttpRequest): string {
    const keys = this.config.apiKeys;
    if (keys === null) return OPEN_MODE_TENANT;
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new ApiError(
        401,
        'Missing API key: send it as "Authorization: Bearer <key>".',
        'invalid_request_error',
        null,
        'missing_api_key',
      );
    }
    const tenant = findTenant(keys, token);
    if (!tenant) {
      throw new ApiError(
        401,
        'Incorrect API key provided.',
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    }
    return tenant;
  }
}

/** Compares against every key (no early exit), so the time taken does not tell which key almost matched. */
function findTenant(keys: TenantApiKey[], token: string): string | undefined {
  let found: string | undefined;
  for (const { tenant, key } of keys) if (secretEquals(token, key) && !found) found = tenant;
  return found;
}
