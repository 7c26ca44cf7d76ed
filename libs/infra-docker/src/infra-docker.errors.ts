/**
 * Every failure the lib reports on purpose carries a stable `code`, so callers (and the CLI's exit codes) branch
 * on it rather than on message text.
 */
export type InfraDockerErrorCode =
  | 'ENGINE_UNREACHABLE'
  | 'IMAGE_UNAVAILABLE'
  | 'PORT_IN_USE'
  | 'NAME_CONFLICT'
  | 'UNHEALTHY'
  | 'INVALID_CONFIG'
  | 'SERVICE_NOT_FOUND'
  | 'UNSUPPORTED_CHANGE';

export class InfraDockerError extends Error {
  constructor(
    readonly code: InfraDockerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class DockerEngineUnreachableError extends InfraDockerError {
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    const reason = messageOf(cause);
    const hint = /EACCES/.test(reason)
      ? 'permission denied on the socket: run as root or add your user to the "docker" group'
      : 'is dockerd running? (`sudo systemctl start docker`, or `dockerd &`); set DOCKER_HOST for a remote engine';
    super('ENGINE_UNREACHABLE', `Cannot reach the Docker engine at ${address}: ${reason} — ${hint}`, {
      cause,
    });
  }
}

export class ImageUnavailableError extends InfraDockerError {
  constructor(
    readonly image: string,
    reason: string,
    cause?: unknown,
  ) {
    super(
      'IMAGE_UNAVAILABLE',
      `Docker image ${image} is not available: ${reason}. Pull it where a registry is reachable and ` +
        '`docker save`/`docker load` it here, build it locally, or pass another image (--image)',
      { cause },
    );
  }
}

export class PortInUseError extends InfraDockerError {
  constructor(
    readonly address: string,
    readonly port: number,
    detail?: string,
  ) {
    super(
      'PORT_IN_USE',
      `Port ${address}:${port} is already in use${detail ? ` (${detail})` : ''}; stop what listens there or choose another port (--port)`,
    );
  }
}

export class ContainerNameConflictError extends InfraDockerError {
  constructor(readonly containerName: string) {
    super(
      'NAME_CONFLICT',
      `A container named ${containerName} already exists and was not created by @llm-cache/infra-docker; ` +
        `remove or rename it (\`docker rm -f ${containerName}\`) or use another service name`,
    );
  }
}

export class RedisUnhealthyError extends InfraDockerError {
  constructor(
    readonly containerName: string,
    reason: string,
    readonly logs: string,
  ) {
    super(
      'UNHEALTHY',
      `${containerName} ${reason}.${logs ? `\n--- last container logs ---\n${logs.trimEnd()}` : ''}`,
    );
  }
}

export class InvalidRedisConfigError extends InfraDockerError {
  constructor(
    readonly errors: string[],
    readonly warnings: string[] = [],
  ) {
    super('INVALID_CONFIG', `Invalid Redis configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  }
}

export class RedisServiceNotFoundError extends InfraDockerError {
  constructor(readonly service: string) {
    super(
      'SERVICE_NOT_FOUND',
      `No Redis service "${service}" is known here (no state in the config directory); start it first (\`redis up --service ${service}\`)`,
    );
  }
}

export class UnsupportedRedisChangeError extends InfraDockerError {
  constructor(keys: string[], why: string) {
    super('UNSUPPORTED_CHANGE', `Cannot change ${keys.join(', ')} on an existing service: ${why}`);
  }
}

/** `err.message` even for errors from another realm (Jest's VM contexts), where `instanceof Error` is false. */
export function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}
