# syntax=docker/dockerfile:1
#
# hvgate container image.
#
#   docker build -t hvgate:0.1.0 .
#   docker run --read-only --tmpfs /tmp -v hvgate-state:/var/lib/hvgate \
#     -v "$PWD/hvgate.yaml:/etc/hvgate/hvgate.yaml:ro" -v "$PWD/secrets:/etc/hvgate/secrets:ro" \
#     -p 8080:8080 hvgate:0.1.0
#
# The config must set `server.host: 0.0.0.0` (the default, 127.0.0.1, is unreachable from outside the
# container) and keep SQLite under /var/lib/hvgate, the only writable path besides /tmp.
#
# Every stage uses the same base, pinned by version tag and manifest-list digest: better-sqlite3 is
# compiled in the build stage and must match the runtime stage's Node ABI and glibc exactly.

FROM node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS build
# node-gyp needs these when no prebuilt better-sqlite3 binary matches the platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Manifests first so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Pruning the built tree keeps the compiled native addons instead of compiling them a second time.
FROM build AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20.20.2-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS runtime
ARG VERSION=0.1.0
# Where the image was built from; the release pipeline passes its repository URL.
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="hvgate" \
      org.opencontainers.image.description="JWT-authenticated, audited gateway for Hyper-V hot-plug operations over WinRM" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.base.name="docker.io/library/node:20.20.2-bookworm-slim" \
      org.opencontainers.image.base.digest="sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0"
# tini is PID 1 so SIGTERM from `docker stop` or the kubelet reaches node and zombies are reaped.
# The state directory belongs to the runtime user; everything else stays root-owned and read-only.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hvgate \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin hvgate \
    && mkdir -p /var/lib/hvgate /etc/hvgate \
    && chown 10001:10001 /var/lib/hvgate \
    && chmod 0750 /var/lib/hvgate
ENV NODE_ENV=production \
    HVGATE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 10001:10001
VOLUME ["/var/lib/hvgate", "/tmp"]
EXPOSE 8080
# A node one-liner, because the slim image has no curl; any status but 200 or no answer in 4 s is unhealthy.
# Set HVGATE_HEALTHCHECK_URL when the config listens on another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "require('http').get(process.env.HVGATE_HEALTHCHECK_URL,{timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli.js"]
CMD ["serve", "--config", "/etc/hvgate/hvgate.yaml"]
