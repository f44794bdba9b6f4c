# The engine image: build (TypeScript -> dist/) in one stage, run the compiled engine with production
# dependencies only, as a non-root user, in another. Base: debian:sid-slim, the same as the PBX image
# (asterisk/Dockerfile); on a machine without a registry, make it with debootstrap (see README).
#   docker build -t uapi-engine:local .
#   APT_OPTIONS: extra apt-get options, e.g. "-o Acquire::Check-Valid-Until=false" for a mirror whose
#   Release file is past its Valid-Until (not a default: it turns off a freshness check).
ARG APT_OPTIONS=""

FROM debian:sid-slim AS build
ARG APT_OPTIONS
RUN apt-get ${APT_OPTIONS} update \
 && DEBIAN_FRONTEND=noninteractive apt-get ${APT_OPTIONS} install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Extra CA certificates (PEM text) that npm must trust to reach its registry, e.g. behind a
# TLS-intercepting proxy (scripts/test-docker.sh passes the host's /usr/local/share/ca-certificates).
# Used by this build stage only: the runtime image below neither has nor trusts them.
ARG EXTRA_CA_CERTS=""
WORKDIR /app
COPY package.json package-lock.json ./
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" >/tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --no-audit --no-fund \
 && rm -f /tmp/extra-ca.pem
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM debian:sid-slim
ARG APT_OPTIONS
# The recordings directory is shared with the PBX container: Asterisk writes there as its group
# (fixed gid RECORDINGS_GID in asterisk/Dockerfile), so `uapi` is a member of a group with that gid
# (named asterisk here too). uapi's own uid is fixed as well, for whoever reads the host directory.
ARG RECORDINGS_GID=980
ARG UAPI_UID=981
RUN apt-get ${APT_OPTIONS} update \
 && DEBIAN_FRONTEND=noninteractive apt-get ${APT_OPTIONS} install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${RECORDINGS_GID}" asterisk \
 && groupadd --system --gid "${UAPI_UID}" uapi \
 && useradd --system --uid "${UAPI_UID}" --gid uapi --groups asterisk --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin uapi
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
# The embedded database (PGlite) when no DATABASE_URL is given: a volume the engine's user owns.
RUN mkdir -p /var/lib/uapi/db && chown uapi:uapi /var/lib/uapi/db
VOLUME /var/lib/uapi/db
USER uapi
ENV NODE_ENV=development HOST=127.0.0.1 PORT=8080 DATABASE_DIR=/var/lib/uapi/db
# Ready = AMI logged in and the call mirror synced (503 until then).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/ready').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
CMD ["node", "dist/engine.js"]
