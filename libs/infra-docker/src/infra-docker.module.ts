import { Module } from '@nestjs/common';
import { DockerEngine } from './docker-engine.js';
import { ConfigurableInfraDockerModule } from './infra-docker.module-definition.js';
import { RedisConfRenderer } from './redis-conf.renderer.js';
import { RedisConfigService } from './redis-config.service.js';
import { RedisConfigValidator } from './redis-config.validator.js';
import { RedisContainerService } from './redis-container.service.js';

/**
 * `InfraDockerModule.forRoot({ docker, configDir, defaults })` / `forRootAsync(...)`, `isGlobal` optional.
 * The services work without Nest too (`new RedisContainerService(options)`), which is how the CLI uses them.
 */
@Module({
  providers: [
    DockerEngine,
    RedisConfRenderer,
    RedisConfigValidator,
    RedisConfigService,
    RedisContainerService,
  ],
  exports: [DockerEngine, RedisConfRenderer, RedisConfigValidator, RedisConfigService, RedisContainerService],
})
export class InfraDockerModule extends ConfigurableInfraDockerModule {}
