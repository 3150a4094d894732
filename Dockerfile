# syntax=docker/dockerfile:1.7
# faultgate container image: multi-stage, non-root, with a HEALTHCHECK (SPEC section 9).
#
# Node version: 24 LTS, chosen by measurement (2026-12-04, quiet 2-core VM,
# `bench/node-versions.sh "20 22 24" -- --runs 3 --duration 10`): faultgate's CPU per request
# was lowest on Node 24 at 1 KiB (69.4 µs against 76.5 on 20 and 71.9 on 22) and at 256 KiB
# (443 µs against 546 and 911); figures in docs/performance.md ("Which Node"). No V8 flags are
# set: none won in `npm run bench:gc-idle` (docs/performance.md). Pinned by tag; pin by digest
# as well in your own registry.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: install with dev dependencies, compile, then drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="faultgate" \
      org.opencontainers.image.description="Network-level HTTP chaos proxy for AI agents" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Application files stay owned by root: the runtime user can read them, not change them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY proxy.example.yaml ./proxy.example.yaml
COPY config/docker.yaml /etc/faultgate/proxy.yaml
# `start` and the health check both read the config from here: point it at your own file
# (docker run -e FAULTGATE_CONFIG=/path/in/container.yaml) rather than passing -c, so the
# health check probes the admin address that file sets.
ENV FAULTGATE_CONFIG=/etc/faultgate/proxy.yaml
# The only writable path faultgate needs: the interception CA directory (ca.dir in docker.yaml).
RUN mkdir -p /var/lib/faultgate/ca && chown -R 1000:1000 /var/lib/faultgate
# uid/gid 1000 is the image's "node" user; numeric so Kubernetes runAsNonRoot can verify it.
USER 1000:1000

# 8080 data plane, 9090 admin API / metrics / health (loopback-only in config/docker.yaml).
EXPOSE 8080 9090
# Slim images ship no curl: a small node script probes /healthz at the admin address of
# FAULTGATE_CONFIG (or FAULTGATE_ADMIN_URL when set), with a 2 s timeout.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/src/cli/healthcheck.js"]

# node is PID 1: faultgate handles SIGTERM itself (drains, exits 0); use `docker run --init`
# if you also want default handling of other signals.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start"]
