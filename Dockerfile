# syntax=docker/dockerfile:1.7
# faultgate container image: multi-stage, non-root, with a HEALTHCHECK (SPEC section 9).
#
# The Node LTS line (22) was chosen from the measurements in bench/ (npm run bench:e2e,
# bench:sse) and may be revisited when a newer LTS measures better. Pinned by tag; pin by
# digest as well in your own registry for reproducible builds.
ARG NODE_IMAGE=node:22-bookworm-slim

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
# The only writable path faultgate needs: the interception CA directory (ca.dir in docker.yaml).
RUN mkdir -p /var/lib/faultgate/ca && chown -R 1000:1000 /var/lib/faultgate
# uid/gid 1000 is the image's "node" user; numeric so Kubernetes runAsNonRoot can verify it.
USER 1000:1000

# 8080 data plane, 9090 admin API / metrics / health (loopback-only in config/docker.yaml).
EXPOSE 8080 9090
# Slim images ship no curl: probe /healthz with node's own fetch, with a short timeout.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# node is PID 1: faultgate handles SIGTERM itself (drains, exits 0); use `docker run --init`
# if you also want default handling of other signals.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start", "-c", "/etc/faultgate/proxy.yaml"]
