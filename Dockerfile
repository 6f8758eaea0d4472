# One image, every role (operator, gateway, worker, local): the binary, the engine library beside
# it (loaded only by the DuckDB roles), libduckdb and the four pinned extensions, built by the same bootstrap as the tests. Runs as non-root with a read-only
# root filesystem; DuckDB's temp and home go to an emptyDir the manifests mount at /tmp.
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl python3 make gcc pkg-config \
      libjansson-dev libyaml-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN FEATHERMAN_CACHE=/opt/featherman-cache scripts/bootstrap.sh && make -j"$(nproc)" all

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libjansson4 libyaml-0-2 \
      libmicrohttpd12 libcurl4 libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/featherman-cache/duckdb-1.5.5 /opt/featherman-cache/duckdb-1.5.5
COPY --from=build /src/build/featherman /src/build/libfeatherman-engine.so /usr/local/bin/
USER 65532:65532
ENV HOME=/tmp
ENTRYPOINT ["/usr/local/bin/featherman"]
