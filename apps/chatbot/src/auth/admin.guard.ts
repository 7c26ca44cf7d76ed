import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';
import { bearerToken, secretEquals } from './secret-compare.js';

/**
 * Guards the cache admin routes with `ADMIN_TOKEN` (`Authorization: Bearer <token>`). Without ADMIN_TOKEN the
 * routes are disabled (403) rather than open: clearing a shared cache is not a dev-mode convenience.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@InjectChatbotConfig() protected readonly config: ChatbotConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const expected = this.config.adminToken;
    if (!expected) {
      throw new ApiError(
        403,
        'Admin routes are disabled: set ADMIN_TOKEN to enable them.',
        'permission_error',
      );
    }
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new ApiError(401, 'Missing admin token: send "Authorization: Bearer <ADMIN_TOKEN>".');
    }
    if (!secretEquals(token, expected)) throw new ApiError(401, 'Incorrect admin token.');
    return true;
  }
}
