# syntax=docker/dockerfile:1
# The chatbot (apps/chatbot) and the libs it uses. Two stages: build with dev dependencies, run with production
# dependencies only, as the unprivileged `node` user. Build context = the repo root (see .dockerignore).

FROM node:24-bookworm-slim AS build
WORKDIR /app
# Manifests first: the `npm ci` layer is reused until a dependency changes.
COPY package.json package-lock.json ./
COPY libs/redis-cache/package.json libs/redis-cache/
COPY libs/llm/package.json libs/llm/
COPY libs/infra-docker/package.json libs/infra-docker/
COPY apps/chatbot/package.json apps/chatbot/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY scripts/copy-web-assets.js scripts/
COPY libs libs
COPY apps apps
# `npm run build` copies the chat page's static files next to the compiled app with this script.
COPY scripts/copy-web-assets.js scripts/
RUN npm run build

# Production dependencies of the chatbot workspace only: not the repo's tooling (the `node` npm package, jest…) and
# not @llm-cache/infra-docker (dockerode), which the chatbot does not use at run time. scripts/check-packages.sh
# fails CI if either comes back into `npm ls --omit=dev --workspace @llm-cache/chatbot`.
FROM node:24-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY libs/redis-cache/package.json libs/redis-cache/
COPY libs/llm/package.json libs/llm/
COPY libs/infra-docker/package.json libs/infra-docker/
COPY apps/chatbot/package.json apps/chatbot/
RUN npm ci --omit=dev --workspace @llm-cache/chatbot --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
# Workspace packages resolve through node_modules/@llm-cache/* symlinks to libs/*: each lib needs its
# package.json (exports → dist/index.js) and dist.
COPY --from=prod-deps /app/package.json ./
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/apps/chatbot/package.json apps/chatbot/
COPY --from=build /app/dist dist
COPY --from=build /app/libs/redis-cache/package.json libs/redis-cache/
COPY --from=build /app/libs/redis-cache/dist libs/redis-cache/dist
COPY --from=build /app/libs/llm/package.json libs/llm/
COPY --from=build /app/libs/llm/dist libs/llm/dist
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 gets SIGTERM from `docker stop` directly, so the app's graceful shutdown runs.
CMD ["node", "dist/apps/chatbot/main.js"]
