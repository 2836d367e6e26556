# syntax=docker/dockerfile:1
# One small, static, non-root image of facecluster with the model weights inside. It runs any
# role by its arguments, for example:
#   docker run IMAGE serve --roles=receiver --db-driver=mysql --db-dsn=…
#   docker run IMAGE migrate
# Build: docker build --build-arg VERSION=$(git describe --tags --always) -t facecluster:TAG .
# The stages mirror `make models` and `make build`; deploy/dockerfile_test.go keeps them in step.

ARG GO_IMAGE=golang:1.26.8-bookworm
ARG NODE_IMAGE=node:20.19.5-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# The face-api.js weights from the pinned lockfile, without running any package's scripts.
FROM ${NODE_IMAGE} AS models
WORKDIR /src/models
COPY models/package.json models/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# A static binary: no cgo, so it runs on distroless/static.
FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X github.com/facecluster/facecluster/cmd/facecluster/internal/cli.version=${VERSION}" \
      -o /out/facecluster ./cmd/facecluster
# Writable places for the nonroot user (distroless has no shell to make them later).
RUN mkdir -p /out/var/lib/facecluster

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="facecluster" \
      org.opencontainers.image.description="Face recognition for buildings: who is in each picture, and when each person was seen" \
      org.opencontainers.image.source="https://github.com/facecluster/facecluster" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=models /src/models/node_modules/@vladmandic/face-api/model /usr/share/facecluster/models
COPY --from=build /out/facecluster /usr/bin/facecluster
COPY --from=build --chown=65532:65532 /out/var/lib/facecluster /var/lib/facecluster
ENV FACECLUSTER_MODELS_DIR=/usr/share/facecluster/models \
    FACECLUSTER_DATA_DIR=/var/lib/facecluster
USER 65532:65532
WORKDIR /var/lib/facecluster
VOLUME /var/lib/facecluster
EXPOSE 8080 9090
ENTRYPOINT ["/usr/bin/facecluster"]
CMD ["serve", "--roles=all"]
