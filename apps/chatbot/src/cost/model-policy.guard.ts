import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { InvalidRequestError } from '../common/api-error.js';
import type { HttpRequest } from '../common/http.types.js';
import type { ChatbotConfig } from '../config/chatbot.config.js';
import { InjectChatbotConfig } from '../config/chatbot-config.constants.js';

/**
 * What one request may ask the upstream for: an allowed model (`LLM_ALLOWED_MODELS`), at most `LLM_MAX_N` choices
 * and `LLM_MAX_TOKENS` tokens. Checked before the cache and the provider, so a refused request costs nothing. Fields
 * of the wrong type are left to the request validator, which names them.
 */
@Injectable()
export class ModelPolicyGuard implements CanActivate {
  constructor(@InjectChatbotConfig() protected readonly config: ChatbotConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const body = context.switchToHttp().getRequest<HttpRequest>().body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return true;
    const fields = body as Record<string, unknown>;
    const { allowedModels, maxN, maxTokens } = this.config.costGuard;
    if (typeof fields.model === 'string' && allowedModels && !allowedModels.includes(fields.model)) {
      throw new InvalidRequestError(
        `The model '${fields.model}' is not allowed on this server. Allowed: ${allowedModels.join(', ')}.`,
        'model',
        'model_not_allowed',
      );
    }
    if (typeof fields.n === 'number' && fields.n > maxN) {
      throw new InvalidRequestError(`Invalid 'n': at most ${maxN} on this server.`, 'n', 'n_above_max');
    }
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const value = fields[field];
      if (typeof value === 'number' && value > maxTokens) {
        throw new InvalidRequestError(
          `Invalid '${field}': ${value} is above this server's limit of ${maxTokens}.`,
          field,
          'max_tokens_above_limit',
        );
      }
    }
    return true;
  }
}
