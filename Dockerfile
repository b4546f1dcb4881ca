# The pg-irt command in an image of its own, for the Kubernetes CronJob of a database that
# cannot install the extension (k8s/components/pg-irt-command):
#
#   docker build -t REGISTRY/pg-irt:0.2.0 .
#
# Two stages: the build (Rust on Debian 12, as the project is tested) and a slim runtime with
# only the binary and what it links (OpenSSL, the CA roots for sslmode=verify-full). It runs as
# an unprivileged user and writes nothing, so the pod can mount its root filesystem read-only.

FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config clang libclang-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p pg-irt-cli \
 && install -D target/release/pg-irt /out/pg-irt

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 pg-irt \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin pg-irt
COPY --from=build /out/pg-irt /usr/local/bin/pg-irt
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/pg-irt"]
CMD ["calibrate"]
