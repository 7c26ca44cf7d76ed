import { ConfigurableModuleBuilder } from '@nestjs/common';
import { INFRA_DOCKER_OPTIONS } from './infra-docker.constants.js';
import type { InfraDockerModuleOptions } from './infra-docker-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableInfraDockerModule,
  MODULE_OPTIONS_TOKEN,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<InfraDockerModuleOptions>({ optionsInjectionToken: INFRA_DOCKER_OPTIONS })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
