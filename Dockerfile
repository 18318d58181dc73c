# syntax=docker/dockerfile:1
# Build: a full Rust toolchain; run: a small Debian with a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# The dependencies first, in a layer of their own, built against an empty crate: a change to
# keydrop's own code reuses this layer instead of rebuilding ~300 crates.
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src target/release/keydrop* target/release/deps/keydrop-* target/release/deps/libkeydrop-* \
      target/release/.fingerprint/keydrop-*
COPY build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY static ./static
RUN cargo build --release --locked && strip target/release/keydrop

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/keydrop --create-home keydrop
COPY --from=build /src/target/release/keydrop /usr/local/bin/keydrop
USER keydrop
WORKDIR /var/lib/keydrop
ENV KEYDROP_DATA_DIR=/var/lib/keydrop \
    KEYDROP_BIND=0.0.0.0:8080 \
    KEYDROP_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["keydrop"]
CMD ["serve"]
