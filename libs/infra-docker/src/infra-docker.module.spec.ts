import { afterAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { DockerEngine } from './docker-engine.js';
import { INFRA_DOCKER_OPTIONS } from './infra-docker.constants.js';
import { InfraDockerModule } from './infra-docker.module.js';
import { RedisConfigService } from './redis-config.service.js';
import { RedisContainerService } from './redis-container.service.js';

describe('InfraDockerModule', () => {
  const modules: TestingModule[] = [];
  afterAll(async () => Promise.all(modules.map((m) => m.close())));

  it('forRoot provides the services with the options, sharing one engine and one config service', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        InfraDockerModule.forRoot({
          configDir: '/tmp/llm-cache-module',
          docker: { socketPath: '/run/test.sock' },
        }),
      ],
    }).compile();
    modules.push(moduleRef);
    const containers = moduleRef.get(RedisContainerService);
    expect(moduleRef.get(INFRA_DOCKER_OPTIONS)).toMatchObject({ configDir: '/tmp/llm-cache-module' });
    expect(moduleRef.get(DockerEngine).address).toBe('unix:///run/test.sock');
    expect(containers.config).toBe(moduleRef.get(RedisConfigService));
    expect(containers.config.store.root).toBe('/tmp/llm-cache-module');
  });

  it('forRootAsync takes the options from a factory, and isGlobal exposes the services app-wide', async () => {
    @Injectable()
    class NeedsContainers {
      constructor(readonly containers: RedisContainerService) {}
    }
    @Module({ providers: [NeedsContainers] })
    class FeatureModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        InfraDockerModule.forRootAsync({
          useFactory: async () => ({ configDir: '/tmp/llm-cache-async' }),
          isGlobal: true,
        }),
        FeatureModule,
      ],
    }).compile();
    modules.push(moduleRef);
    expect(moduleRef.get(NeedsContainers).containers.config.store.root).toBe('/tmp/llm-cache-async');
  });
});
