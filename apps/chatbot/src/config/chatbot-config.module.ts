import type { DynamicModule, Provider } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { loadChatbotConfig, type ChatbotConfig } from './chatbot.config.js';
import { CHATBOT_CONFIG } from './chatbot-config.constants.js';

/** Where the parsed config lives in ConfigService: `config.getOrThrow<ChatbotConfig>(CHATBOT_CONFIG_KEY)`. */
export const CHATBOT_CONFIG_KEY = 'chatbot';

/**
 * `ConfigModule.forRoot` with the chatbot's parser as its validator: the one reading of the environment, every
 * offending variable named in one `ChatbotConfigError` (main.ts turns it into exit 1). No `.env` file is read: the
 * deployment's environment is the configuration, as before. `env` replaces `process.env` (tests, embedding apps).
 */
export function chatbotConfigModule(env?: Record<string, string | undefined>): Promise<DynamicModule> {
  return ConfigModule.forRoot({
    isGlobal: true,
    ignoreEnvFile: true,
    // With an explicit env, process.env is neither validated nor consulted by ConfigService.
    validatePredefined: env === undefined,
    skipProcessEnv: env !== undefined,
    validate: (raw) => ({ [CHATBOT_CONFIG_KEY]: loadChatbotConfig(env ?? raw) }),
  });
}

/** The typed config under the app's own token, for the classes that inject it. */
export const chatbotConfigProvider: Provider = {
  provide: CHATBOT_CONFIG,
  inject: [ConfigService],
  useFactory: (config: ConfigService): ChatbotConfig => config.getOrThrow<ChatbotConfig>(CHATBOT_CONFIG_KEY),
};
