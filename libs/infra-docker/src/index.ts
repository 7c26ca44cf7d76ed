// Public surface of @llm-cache/infra-docker. Everything else in src/ is internal and may change in any release.
export { DockerEngine } from './docker-engine.js';
export * from './infra-docker.constants.js';
export { InjectInfraDockerOptions } from './infra-docker.decorators.js';
export * from './infra-docker.errors.js';
export type { DockerConnectionOptions, InfraDockerModuleOptions } from './infra-docker-options.interface.js';
export { InfraDockerModule } from './infra-docker.module.js';
export { MODULE_OPTIONS_TOKEN } from './infra-docker.module-definition.js';
export { parseRedisConf, type RedisConfDirective, type RedisConfParseResult } from './redis-conf.parser.js';
export { RedisConfRenderer } from './redis-conf.renderer.js';
export type * from './redis-config.interfaces.js';
export {
  DANGEROUS_COMMANDS,
  PROFILE_CONTAINER_DEFAULTS,
  redisConfigProfile,
} from './redis-config.profiles.js';
export { RedisConfigService, type RedisValidateOptions } from './redis-config.service.js';
export { RedisConfigValidator } from './redis-config.validator.js';
export type * from './redis-container.interfaces.js';
export type { RedisServerCommand, ResolvedRedisContainerOptions } from './redis-container.definition.js';
export { RedisContainerService } from './redis-container.service.js';
export { formatBytes, parseRedisMemory } from './redis-memory.js';
export { RedisServerConfigChecker, type RedisServerCheckResult } from './redis-server.checker.js';
export { RedisServiceStore, defaultConfigDir, type RedisServiceState } from './redis-service.store.js';
