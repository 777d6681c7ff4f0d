# syntax=docker/dockerfile:1
#
# The tickwire server image: built with the official Rust image, run on Debian
# slim as an unprivileged user, the binary alone. docs/DEPLOY.md explains how to
# run it. Build with BuildKit (the default since Docker 23):
#
#     docker build -t tickwire .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crates.io downloads and the compiled dependencies
# from one build to the next, so a code change rebuilds only tickwire itself.
# The target directory is a cache, not a layer: the binary is copied out of it
# in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tickwire \
    && install -D -m 0755 target/release/tickwire /out/tickwire

FROM debian:bookworm-slim
# The binary needs only glibc (no OpenSSL: TLS is terminated in front of it).
RUN groupadd --system --gid 10001 tickwire \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin tickwire
COPY --from=build /out/tickwire /usr/local/bin/tickwire
USER 10001:10001
EXPOSE 7777
# No HEALTHCHECK: the slim image has no HTTP client. Probe GET /healthz and
# GET /readyz from the orchestrator instead (docs/DEPLOY.md).
# Settings: TICKWIRE_* environment variables, or flags after `serve`
# (`docker run tickwire serve --help` lists them). A flag wins over its
# variable, so the --bind below wins over TICKWIRE_BIND.
ENTRYPOINT ["tickwire"]
CMD ["serve", "--bind", "0.0.0.0:7777"]
