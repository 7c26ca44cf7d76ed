import { Inject } from '@nestjs/common';

export const CHATBOT_CONFIG = Symbol.for('llm-cache:chatbot:config');

export const InjectChatbotConfig = (): ParameterDecorator => Inject(CHATBOT_CONFIG);
