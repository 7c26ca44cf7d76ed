/** Injection token of the module options (namespaced so it can't collide with another lib's string token). */
export const INFRA_DOCKER_OPTIONS = 'llm-cache:infra-docker:options';

/** Labels put on every container and volume this lib creates; `remove()` refuses anything without them. */
export const LABEL_MANAGED_BY = 'llm-cache.managed-by';
export const LABEL_SERVICE = 'llm-cache.service';
export const MANAGED_BY_VALUE = '@llm-cache/infra-docker';

/** Where the generated redis.conf directory is mounted inside the container (the official image's convention). */
export const CONTAINER_CONF_DIR = '/usr/local/etc/redis';
export const CONTAINER_CONF_FILE = `${CONTAINER_CONF_DIR}/redis.conf`;
export const CONTAINER_DATA_DIR = '/data';
/** Redis' port inside the container when the port is published (bridge and user networks). */
export const CONTAINER_REDIS_PORT = 6379;

/**
 * Users the lib adds to every generated config. The health check authenticates as a user that may only PING,
 * so it keeps working when the app password changes live (a container's health check can't be edited) and the
 * container config holds no secret. Live updates authenticate as the admin user, whose password never leaves the
 * host-side state file, because production app users may not run CONFIG.
 */
export const HEALTHCHECK_USER = 'llm-cache-health';
export const ADMIN_USER = 'llm-cache-admin';

export const DEFAULT_SERVICE = 'development';
export const DEFAULT_IMAGE = 'redis:7-alpine';
export const DEFAULT_HOST_PORT = 6379;
export const DEFAULT_BIND_ADDRESS = '127.0.0.1';
export const DEFAULT_NETWORK_MODE = 'bridge';

export function containerNameFor(service: string): string {
  return `redis-${service}`;
}

export function volumeNameFor(service: string): string {
  return `redis-${service}-data`;
}

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Service names become container and volume names, so they follow Docker's name rules. */
export function assertServiceName(service: string): void {
  if (!SERVICE_NAME.test(service)) {
    throw new TypeError(
      `invalid service name ${JSON.stringify(service)}: use letters, digits, '_', '.' or '-' (starting with a letter or digit, at most 63 characters)`,
    );
  }
}
