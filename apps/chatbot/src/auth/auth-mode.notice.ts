import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

/** Says loudly, once at start-up, when the chat API is open, the admin API is off or spending is unbounded. */
@Injectable()
export class AuthModeNotice implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

  constructor(@InjectChatbotConfig() private readonly config: ChatbotConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.apiKeys === null) {
      this.logger.warn(
        'CHATBOT_API_KEYS is not set: OPEN DEV MODE, anyone can call the chat API as tenant "default". ' +
          'Set CHATBOT_API_KEYS=tenant:key,… before exposing this service.',
      );
    } else {
      this.logger.log(
        `API keys configured for ${new Set(this.config.apiKeys.map((k) => k.tenant)).size} tenant(s)`,
      );
    }
    const { requestsPerMinute, tokensPerDay } = this.config.costGuard;
    if (this.config.production && (requestsPerMinute === undefined || tokensPerDay === undefined)) {
      this.logger.warn(
        `No per-tenant ${requestsPerMinute === undefined ? 'RATE_LIMIT_RPM' : ''}` +
          `${requestsPerMinute === undefined && tokensPerDay === undefined ? ' / ' : ''}` +
          `${tokensPerDay === undefined ? 'TOKEN_BUDGET_PER_DAY' : ''} set: one tenant can run up the upstream bill.`,
      );
    }
    if (!this.config.adminToken) {
      this.logger.warn('ADMIN_TOKEN is not set: the /cache admin routes are disabled (403).');
    }
  }
}
