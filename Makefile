# featherman build. Run scripts/bootstrap.sh first (it writes build/config.mk with the cached
# dependency paths). Targets:
#   make            build/featherman
#   make asan       build/asan/featherman (AddressSanitizer + UndefinedBehaviorSanitizer)
#   make unit       build/unit_tests (C unit tests; run it to test)
#   make bench      build/bench/latency, build/bench/fresh_query (bench/run.sh and bench/ab.sh run them)
#   make check-layers  the layer rules of docs/ARCHITECTURE.md over src/'s #include lines
#   make dist       dist/install.yaml and the Helm chart's CRDs from config/ (scripts/dist.sh)
#   make clean
-include build/config.mk
ifneq ($(MAKECMDGOALS),dist)
ifndef DUCKDB_DIR
$(error build/config.mk is missing: run scripts/bootstrap.sh first)
endif
endif

# Where the built binaries look for libduckdb (the engine library's rpath, a sandbox read-only
# path) and for DuckDB's extensions at run time: the dependency cache by default; the image build
# sets both on the make command line to the image's own layout (Dockerfile).
DUCKDB_RUNTIME_LIBDIR ?= $(DUCKDB_DIR)/lib

CC      ?= cc
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
INC     := -Isrc -I$(DUCKDB_DIR)/include -Ibuild/nanoarrow/include \
           -I$(NANOARROW_DIR)/arrow-nanoarrow/src -I$(NANOARROW_DIR)/flatcc/include
DEFS    := -DFEATHERMAN_VERSION='"$(VERSION)"' -DFEATHERMAN_EXTENSION_DIR='"$(FEATHERMAN_EXTENSION_DIR)"' \
           -DFEATHERMAN_DUCKDB_LIBDIR='"$(DUCKDB_RUNTIME_LIBDIR)"' \
           -DNANOARROW_NAMESPACE=FeathermanArrow
SYSLIBS := $(shell pkg-config --libs jansson yaml-0.1 libmicrohttpd libcurl openssl) -lpthread -lm
LIBS    := -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_RUNTIME_LIBDIR) -lduckdb $(SYSLIBS)

OPT     := -O2 -g -fPIC
SAN     := -O1 -g -fPIC -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS    := $(sort $(wildcard src/*.c src/*/*.c))
# The roles that run DuckDB (local, worker) live in libfeatherman-engine.so beside the binary,
# loaded by main.c only for those roles: the operator and the gateway never map libduckdb
# (13 MiB of resident pages at start-up). The library is the folder src/engine/; its objects
# take the rest (base, model, http) from the binary.
ENGINE  := $(patsubst src/%.c,%,$(wildcard src/engine/*.c))
MAIN    := src/main.c
LIBSRCS := $(filter-out $(MAIN),$(SRCS))
UNITSRC := $(sort $(wildcard tests/unit/*.c))

# nanoarrow + its IPC writer, built from the pinned sources in the cache (C only, no C++).
NA      := $(NANOARROW_DIR)/arrow-nanoarrow/src/nanoarrow
FC      := $(NANOARROW_DIR)/flatcc/src/runtime
NASRCS  := $(NA)/common/array.c $(NA)/common/schema.c $(NA)/common/utils.c $(NA)/common/array_stream.c \
           $(NA)/ipc/codecs.c $(NA)/ipc/decoder.c $(NA)/ipc/encoder.c $(NA)/ipc/reader.c $(NA)/ipc/writer.c \
           $(FC)/builder.c $(FC)/emitter.c $(FC)/verifier.c $(FC)/refmap.c
# nanoarrow's assertion messages (its sources and headers) name the files relative to the cache,
# not by the cache's absolute path, which would otherwise be baked into the engine library.
PATHMAP := -ffile-prefix-map=$(NANOARROW_DIR)/=nanoarrow/
NACFLAGS := -O2 -g -fPIC -w $(PATHMAP) -DNANOARROW_NAMESPACE=FeathermanArrow -I$(CURDIR)/build/nanoarrow/include \
           -I$(NANOARROW_DIR)/arrow-nanoarrow/src -I$(NANOARROW_DIR)/flatcc/include
NACONFIG := build/nanoarrow/include/nanoarrow/nanoarrow_config.h

.PHONY: all asan unit clean fuzz bench check-layers dist
all: build/featherman
asan: build/asan/featherman build/asan/unit_tests
unit: build/unit_tests

$(NACONFIG): $(NA)/nanoarrow_config.h.in
	@mkdir -p $(dir $@)
	sed -e 's/@NANOARROW_VERSION_MAJOR@/0/; s/@NANOARROW_VERSION_MINOR@/9/; s/@NANOARROW_VERSION_PATCH@/0/' \
	    -e 's/@NANOARROW_VERSION@/0.9.0/; s/@NANOARROW_NAMESPACE_DEFINE@//' $< > $@

build/nanoarrow/libnanoarrow.a: $(NACONFIG) $(NASRCS)
	@mkdir -p build/nanoarrow/obj
	cd build/nanoarrow/obj && for f in $(NASRCS); do \
	  $(CC) $(NACFLAGS) -c $$f -o $$(basename $$(dirname $$f))_$$(basename $$f .c).o || exit 1; done
	ar rcs $@ build/nanoarrow/obj/*.o

# normal build
OBJS := $(patsubst src/%.c,build/obj/%.o,$(SRCS))
build/obj/%.o: src/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(PATHMAP) $(INC) $(DEFS) -MMD -MP -c $< -o $@
EOBJS := $(addprefix build/obj/,$(addsuffix .o,$(ENGINE)))
build/featherman: $(filter-out $(EOBJS),$(OBJS)) build/libfeatherman-engine.so
	$(CC) $(OPT) -rdynamic -o $@ $(filter-out $(EOBJS),$(OBJS)) $(SYSLIBS) -ldl
build/libfeatherman-engine.so: $(EOBJS) build/nanoarrow/libnanoarrow.a
	$(CC) $(OPT) -shared -o $@ $(EOBJS) build/nanoarrow/libnanoarrow.a $(LIBS)

UOBJS := $(patsubst tests/unit/%.c,build/uobj/%.o,$(UNITSRC))
build/uobj/%.o: tests/unit/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INC) -Itests/unit $(DEFS) -MMD -MP -c $< -o $@
build/unit_tests: $(UOBJS) $(filter-out build/obj/main.o,$(OBJS)) build/nanoarrow/libnanoarrow.a
	$(CC) $(OPT) -o $@ $^ $(LIBS)

# sanitizer build
AOBJS := $(patsubst src/%.c,build/asan/obj/%.o,$(SRCS))
build/asan/obj/%.o: src/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(SAN) $(INC) $(DEFS) -MMD -MP -c $< -o $@
AEOBJS := $(addprefix build/asan/obj/,$(addsuffix .o,$(ENGINE)))
build/asan/featherman: $(filter-out $(AEOBJS),$(AOBJS)) build/asan/libfeatherman-engine.so
	$(CC) $(SAN) -rdynamic -o $@ $(filter-out $(AEOBJS),$(AOBJS)) $(SYSLIBS) -ldl
build/asan/libfeatherman-engine.so: $(AEOBJS) build/nanoarrow/libnanoarrow.a
	$(CC) $(SAN) -shared -o $@ $(AEOBJS) build/nanoarrow/libnanoarrow.a $(LIBS)
AUOBJS := $(patsubst tests/unit/%.c,build/asan/uobj/%.o,$(UNITSRC))
build/asan/uobj/%.o: tests/unit/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(SAN) $(INC) -Itests/unit $(DEFS) -MMD -MP -c $< -o $@
build/asan/unit_tests: $(AUOBJS) $(filter-out build/asan/obj/main.o,$(AOBJS)) build/nanoarrow/libnanoarrow.a
	$(CC) $(SAN) -o $@ $^ $(LIBS)

# benchmark programs (bench/run.sh)
bench: build/bench/latency build/bench/fresh_query
build/bench/latency: bench/latency.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -o $@ $< $(shell pkg-config --cflags --libs libcurl) -pthread
build/bench/fresh_query: bench/fresh_query.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INC) $(DEFS) -o $@ $< -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb

# libFuzzer target for the SQL guard's lexer (clang only; skipped where clang is missing).
# FUZZ_SECONDS bounds the run.
FUZZ_SECONDS ?= 60
fuzz:
	@if command -v clang >/dev/null 2>&1; then \
	  mkdir -p build/fuzz && \
	  clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(INC) $(DEFS) -o build/fuzz/fuzz_sqlguard \
	    tests/fuzz/fuzz_sqlguard.c src/engine/sqlguard.c src/base/buf.c src/base/err.c \
	    -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb && \
	  build/fuzz/fuzz_sqlguard -max_total_time=$(FUZZ_SECONDS) -max_len=4096; \
	else echo "fuzz: clang not found, skipped"; fi

check-layers:
	scripts/check-layers.sh src

# The install bundle needs no build: only config/, VERSION and the chart.
dist:
	scripts/dist.sh

clean:
	rm -rf build/obj build/uobj build/asan build/featherman build/libfeatherman-engine.so build/unit_tests build/nanoarrow \
	       build/bench

-include $(OBJS:.o=.d) $(UOBJS:.o=.d) $(AOBJS:.o=.d) $(AUOBJS:.o=.d)
