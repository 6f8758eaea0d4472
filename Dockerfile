# One image, every role (operator, gateway, worker, local): the binary, the engine library beside
# it (loaded only by the DuckDB roles), libduckdb and the four pinned extensions. The build stage
# runs the same scripts/bootstrap.sh as the tests (Debian build packages, the downloads pinned and
# sha256-checked in deps/pins.tsv), then compiles with every run-time path pointing at this image's
# layout, so no path of the build stage or of the host is baked in:
#   /usr/local/lib/featherman/featherman               the binary (/usr/local/bin/featherman links to it)
#   /usr/local/lib/featherman/libfeatherman-engine.so  found beside the binary
#   /usr/local/lib/featherman/libduckdb.so             the engine library's rpath
#   /usr/local/lib/featherman/extensions/              DuckDB's extension directory, loaded offline
# Runs as non-root (65532) with a read-only root filesystem; DuckDB's temp files and $HOME go to
# /tmp, which the manifests mount as an emptyDir.
#
#   docker build -t featherman:$(cat VERSION) .
# BASE_IMAGE is any Debian bookworm image; scripts/image.sh builds one from Debian's packages
# (mmdebstrap) and passes it here, so no container registry is needed.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Dependencies first: this layer is reused until the pins or the bootstrap change. The bootstrap
# fetches what deps/pins.tsv names into /opt/featherman-deps/downloads unless a file with the
# pinned sha256 is already there: scripts/image.sh mounts the host's verified downloads there
# (read-only, never part of a layer), so its builds fetch nothing.
COPY deps/pins.tsv deps/
COPY scripts/bootstrap.sh scripts/
RUN FEATHERMAN_CACHE=/opt/featherman-deps scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*
COPY . .
ARG LIBDIR=/usr/local/lib/featherman
RUN make -j"$(nproc)" all DUCKDB_RUNTIME_LIBDIR=$LIBDIR FEATHERMAN_EXTENSION_DIR=$LIBDIR/extensions \
 && duckdb=$(awk '$1=="DUCKDB_DIR"{print $3}' build/config.mk) \
 && mkdir -p /out$LIBDIR /out/usr/local/bin \
 && strip --strip-debug -o /out$LIBDIR/featherman build/featherman \
 && strip --strip-debug -o /out$LIBDIR/libfeatherman-engine.so build/libfeatherman-engine.so \
 && cp "$duckdb/lib/libduckdb.so" /out$LIBDIR/ \
 && cp -R "$duckdb/extensions" /out$LIBDIR/extensions \
 && ln -s $LIBDIR/featherman /out/usr/local/bin/featherman

FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libjansson4 \
      libyaml-0-2 libmicrohttpd12 libcurl4 libssl3 libstdc++6 libgcc-s1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /out/ /
USER 65532:65532
ENV HOME=/tmp
ENTRYPOINT ["/usr/local/bin/featherman"]
