# syntax=docker/dockerfile:1
# The Reflex webapp image. Three stages:
#   deps     production dependencies of the webapp workspace only (cached while the manifests
#            and the lockfile are unchanged: source edits never invalidate this layer)
#   build    the esbuild bundle (server and the site's routes) and build-info.json for REFLEX_SHA
#   runtime  node + git + the bundle + the site's pages and assets, as the unprivileged `node` user
#
#   docker build --build-arg REFLEX_SHA=$(git rev-parse HEAD) -t reflex:$(git rev-parse HEAD) .
#
# BASE_IMAGE defaults to the official Node 20 image. The deploy test tier, which cannot pull
# images, imports a stand-in under the same name (test/deploy/make-standin-base.sh) and builds
# this same file with --pull=never.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS deps
WORKDIR /app
# Only the manifests: npm ci needs every workspace's package.json to accept the lockfile.
COPY package.json package-lock.json .npmrc ./
COPY webapp/package.json webapp/
COPY pulumi/package.json pulumi/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --workspace webapp --include-workspace-root=false \
      --ignore-scripts --no-audit --no-fund

FROM deps AS build
COPY webapp/ webapp/
ARG REFLEX_SHA=""
RUN REFLEX_BUILD_SHA="${REFLEX_SHA}" node webapp/scripts/build.mjs

FROM ${BASE_IMAGE} AS runtime
# The instance clones its repository at start, so the runtime needs git. The official image
# has no git: install it from Debian. The test tier's stand-in base (which has no apt-get)
# already carries git, so the same file builds both; this layer stays cached either way.
RUN if ! command -v git >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
COPY --from=deps /app/node_modules ./node_modules
COPY webapp/package.json ./webapp/
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "webapp/dist/server.js"]
# What changes with every commit comes last, so that everything above is shared between commits.
COPY --from=build /app/webapp/dist ./webapp/dist
COPY --from=build /app/webapp/site ./webapp/site
# An empty REFLEX_SHA counts as unset for the app (it then reports dist/build-info.json's).
ARG REFLEX_SHA=""
LABEL org.opencontainers.image.title="reflex" \
      org.opencontainers.image.revision="${REFLEX_SHA}" \
      io.reflex.service="reflex"
ENV REFLEX_SHA=${REFLEX_SHA}
