import { Inject } from '@nestjs/common';
import { INFRA_DOCKER_OPTIONS } from './infra-docker.constants.js';

/** `@InjectInfraDockerOptions() options: InfraDockerModuleOptions` in providers that extend the lib. */
export const InjectInfraDockerOptions = (): ParameterDecorator & PropertyDecorator =>
  Inject(INFRA_DOCKER_OPTIONS);
