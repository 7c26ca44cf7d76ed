import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  K8S_DIR,
  containersOf,
  find,
  kustomize,
  readYamlDocuments,
  type K8sObject,
} from './kustomize-lite.js';

/** The kubernetes-models class for an object's apiVersion + kind (its JSON schema validates the whole object). */
async function validate(obj: K8sObject): Promise<void> {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion : `v1`;
  const mod = (await import(`kubernetes-models/${group}/${obj.kind}`)) as Record<
    string,
    new (data: object) => { validate(): void }
  >;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

type Probe = {
  httpGet: { path: string; port: string };
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
};
interface ChatbotContainer {
  ports: Array<{ name: string; containerPort: number }>;
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  lifecycle: { preStop: { sleep: { seconds: number } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
  };
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  const overlays = readdirSync(join(K8S_DIR, 'overlays')).map((name) => join('overlays', name));

  it.each(['base', 'redis-dev', ...overlays])(
    '%s renders and every object validates against the Kubernetes schemas',
    async (dir) => {
      const objects = kustomize(join(K8S_DIR, dir));
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) await validate(obj);
    },
  );

  it('the Secret template validates and holds placeholders only, never real values', async () => {
    const [secret] = readYamlDocuments(join(K8S_DIR, 'base', 'secret.example.yaml'));
    await validate(secret);
    const data = secret.stringData as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['ADMIN_TOKEN', 'CHATBOT_API_KEYS', 'LLM_API_KEY', 'REDIS_URL']);
    for (const value of Object.values(data)) expect(value).toMatch(/<[^>]+>/);
  });

  it('a bad manifest fails validation (the check can fail)', async () => {
    const deployment = structuredClone(
      find(kustomize(join(K8S_DIR, 'base')), 'Deployment', 'llm-cache-chatbot'),
    );
    (deployment.spec as { replicas: unknown }).replicas = 'two';
    await expect(validate(deployment)).rejects.toThrow();
  });

  describe('the chatbot Deployment keeps the operational contract', () => {
    const objects = kustomize(join(K8S_DIR, 'base'));
    const deployment = find(objects, 'Deployment', 'llm-cache-chatbot');
    const config = find(objects, 'ConfigMap', 'llm-cache-chatbot').data as Record<string, string>;
    const pod = (
      deployment.spec as { template: { spec: Record<string, unknown>; metadata: K8sObject['metadata'] } }
    ).template;
    const container = containersOf([deployment])[0] as unknown as ChatbotContainer;
    const port = container.ports.find((p) => p.name === 'http')!.containerPort;

    it('probes: startup and liveness on /health/live, readiness on /health/ready, on the port the app listens on', () => {
      expect(String(port)).toBe(config.PORT);
      expect(container.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    });

    it('grace period outlasts preStop + SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS, so shutdown is never cut by SIGKILL', () => {
      const grace = pod.spec.terminationGracePeriodSeconds as number;
      const preStop = container.lifecycle.preStop.sleep.seconds;
      const drainMs = Number(config.SHUTDOWN_DRAIN_MS);
      expect(preStop).toBeGreaterThanOrEqual(3);
      // A drain is configured: readiness fails while the port still serves (test/deploy/k8s-probes.e2e-spec.ts).
      expect(drainMs).toBeGreaterThan(0);
      expect(grace).toBeGreaterThan(preStop + (drainMs + Number(config.SHUTDOWN_TIMEOUT_MS)) / 1000);
    });

    it('runs non-root on a read-only root filesystem with resources set', () => {
      expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: expect.any(Number) });
      expect(container.securityContext).toEqual({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
      expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    });

    it('env comes from the ConfigMap and the Secret; Prometheus scrapes /metrics on the app port', () => {
      expect(container.envFrom).toEqual([
        { configMapRef: { name: 'llm-cache-chatbot' } },
        { secretRef: { name: 'llm-cache-chatbot' } },
      ]);
      expect(pod.metadata.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(port),
        'prometheus.io/path': '/metrics',
      });
      expect(config.NODE_ENV).toBe('production');
    });

    it('has a Service, an HPA, a PDB and a NetworkPolicy selecting the same pods', () => {
      const selector = { 'app.kubernetes.io/name': 'llm-cache-chatbot' };
      expect((find(objects, 'Service', 'llm-cache-chatbot').spec as { selector: object }).selector).toEqual(
        selector,
      );
      expect(find(objects, 'PodDisruptionBudget', 'llm-cache-chatbot').spec).toMatchObject({
        selector: { matchLabels: selector },
      });
      expect(find(objects, 'NetworkPolicy', 'llm-cache-chatbot').spec).toMatchObject({
        podSelector: { matchLabels: selector },
      });
      expect(find(objects, 'HorizontalPodAutoscaler', 'llm-cache-chatbot').spec).toMatchObject({
        scaleTargetRef: { kind: 'Deployment', name: 'llm-cache-chatbot' },
      });
    });
  });

  it('the example overlay pins the image, sets its namespace everywhere and brings a password-protected Redis on a PVC', () => {
    const objects = kustomize(join(K8S_DIR, 'overlays', 'example'));
    for (const obj of objects.filter((o) => o.kind !== 'Namespace'))
      expect(obj.metadata.namespace).toBe('llm-cache');
    expect(containersOf([find(objects, 'Deployment', 'llm-cache-chatbot')])[0].image).toBe(
      'registry.example.com/llm-cache/chatbot:0.1.0',
    );
    const redis = find(objects, 'StatefulSet', 'redis').spec as {
      volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } } } }>;
      template: {
        spec: {
          containers: Array<{
            env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string } } }>;
            args: string[];
          }>;
        };
      };
    };
    expect(redis.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('1Gi');
    const redisContainer = redis.template.spec.containers[0];
    expect(redisContainer.env).toContainEqual(
      expect.objectContaining({
        name: 'REDIS_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'llm-cache-redis', key: 'REDIS_PASSWORD' } },
      }),
    );
    expect(redisContainer.args.join(' ')).toContain('--requirepass "$REDIS_PASSWORD"');
  });
});
