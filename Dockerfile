# syntax=docker/dockerfile:1
# Osmium auth gateway. Build: docker build -t osmium-gateway .
# Run with Postgres and Redis: docker compose up (see docker-compose.yml).
#
# test/ops/dockerImage.test.ts performs these steps (COPY, RUN, ENV, USER,
# CMD, HEALTHCHECK, STOPSIGNAL) in a scratch folder on every `npm test` and
# starts the result as the `node` user: keep to those instructions, RUN only
# in the build stage, and paths inside WORKDIR or named in COPY.

# Stage 1: install everything, compile dist/ with esbuild (the gateway, its V8
# code cache, made by this image's node, and the browser console), then drop
# the development dependencies (esbuild, tsx, TypeScript) so that only what
# the compiled gateway loads at run time is copied on.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build.mjs scripts/buildBrowser.mjs scripts/bundleLoader.mjs scripts/checkNode.mjs scripts/commandLine.mjs scripts/admin.ts ./scripts/
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && mkdir -p data

# Stage 2: the runtime image: compiled JavaScript, production dependencies, as
# the unprivileged `node` user. HOST=0.0.0.0: the gateway's own default in
# single-instance mode is 127.0.0.1, unreachable from outside a container.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    UV_THREADPOOL_SIZE=8
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# DATA_DIR holds the embedded Postgres when DATABASE_URL is unset (single-instance mode).
COPY --from=build --chown=node:node /app/data /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# /healthz: the process is alive (readiness, /readyz, is for load balancers).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM starts the graceful shutdown (answer in-flight requests, close sockets
# with 1001, flush activity); give it SHUTDOWN_GRACE_MS plus a margin
# (docker stop -t 15, compose stop_grace_period).
STOPSIGNAL SIGTERM
# node directly (not npm) so that SIGTERM reaches the gateway. The admin CLI:
# docker compose exec gateway node dist/admin.js help
CMD ["node", "dist/main.js"]
