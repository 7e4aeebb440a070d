# syntax=docker/dockerfile:1
# Osmium auth gateway. Build: docker build -t osmium-gateway .
# Run with Postgres and Redis: docker compose up (see docker-compose.yml).

# Stage 1: production dependencies only (tsx is one: the gateway runs its
# TypeScript through tsx, so there is no compile step and no dev dependency).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime image, as the unprivileged `node` user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json tsconfig.json ./
COPY --chown=root:root src ./src
# DATA_DIR holds the embedded Postgres when DATABASE_URL is unset (single-instance mode).
RUN mkdir -p /data && chown node:node /data
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
# node directly (not npm) so that SIGTERM reaches the gateway.
CMD ["node", "--import", "tsx", "src/main.ts"]
