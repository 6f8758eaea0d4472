# featherman build. Run scripts/bootstrap.sh first (it writes build/config.mk with the cached
# dependency paths). Targets:
#   make            build/featherman
#   make asan       build/asan/featherman (AddressSanitizer + UndefinedBehaviorSanitizer)
#   make unit       build/unit_tests (C unit tests; run it to test)
#   make bench      build/bench/latency, build/bench/fresh_query (bench/run.sh and bench/ab.sh run them),
#                   build/bench/authz_cost (the authorizer's cost per statement)
#   make fuzz-authz   the authorizer's differential fuzz target (clang; FUZZ_SECONDS=60)
#   make check-layers  the layer rules of docs/ARCHITECTURE.md over src/'s #include lines, and the
#                   allocation policy (scripts/check-alloc.sh)
#   make dist       dist/install.yaml and the Helm chart's CRDs from config/ (scripts/dist.sh)
#   make clean
-include build/config.mk
ifneq ($(MAKECMDGOALS),dist)
ifndef DUCKDB_DIR
$(error build/config.mk is missing: run scripts/bootstrap.sh first)
endif
ifndef DUCKDB_CXX_INCLUDE
$(error build/config.mk has no DUCKDB_CXX_INCLUDE (DuckDB's C++ headers): run scripts/bootstrap.sh again)
endif
endif

# Where the built binaries look for libduckdb (the engine library's rpath, a sandbox read-only
# path) and for DuckDB's extensions at run time: the dependency cache by default; the image build
# sets both on the make command line to the image's own layout (Dockerfile).
DUCKDB_RUNTIME_LIBDIR ?= $(DUCKDB_DIR)/lib

CC      ?= cc
CXX     ?= g++
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

# The one C++ file (src/engine/sqlparse.cpp, see its header for why) is compiled against the C++
# headers of the exact DuckDB release we link, with a release build's flags (NDEBUG: no debug-only
# members), as C++11 like DuckDB itself. DuckDB's headers are system headers: our warnings apply to
# our code, not theirs.
CXXSTD  := -std=c++11 -DNDEBUG -D_GNU_SOURCE
CXXINC  := -Isrc -I$(DUCKDB_DIR)/include -isystem $(DUCKDB_CXX_INCLUDE)
CXXWARN := -Wall -Wextra -Werror -Wshadow

OPT     := -O2 -g -fPIC
SAN     := -O1 -g -fPIC -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS    := $(sort $(wildcard src/*.c src/*/*.c))
CXXSRCS := $(sort $(wildcard src/engine/*.cpp))
# The roles that run DuckDB (local, worker) live in libfeatherman-engine.so beside the binary,
# loaded by main.c only for those roles: the operator and the gateway never map libduckdb
# (13 MiB of resident pages at start-up). The library is the folder src/engine/; its objects
# take the rest (base, model, http) from the binary.
ENGINE  := $(patsubst src/%.c,%,$(wildcard src/engine/*.c)) $(patsubst src/%.cpp,%,$(CXXSRCS))
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

.PHONY: all asan unit clean fuzz fuzz-authz bench check-layers dist
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
OBJS := $(patsubst src/%.c,build/obj/%.o,$(SRCS)) $(patsubst src/%.cpp,build/obj/%.o,$(CXXSRCS))
build/obj/%.o: src/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(PATHMAP) $(INC) $(DEFS) -MMD -MP -c $< -o $@
build/obj/%.o: src/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) $(OPT) $(CXXINC) -MMD -MP -c $< -o $@
EOBJS := $(addprefix build/obj/,$(addsuffix .o,$(ENGINE)))
build/featherman: $(filter-out $(EOBJS),$(OBJS)) build/libfeatherman-engine.so
	$(CC) $(OPT) -rdynamic -o $@ $(filter-out $(EOBJS),$(OBJS)) $(SYSLIBS) -ldl
build/libfeatherman-engine.so: $(EOBJS) build/nanoarrow/libnanoarrow.a
	$(CXX) $(OPT) -shared -o $@ $(EOBJS) build/nanoarrow/libnanoarrow.a $(LIBS)

UOBJS := $(patsubst tests/unit/%.c,build/uobj/%.o,$(UNITSRC))
build/uobj/%.o: tests/unit/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INC) -Itests/unit $(DEFS) -MMD -MP -c $< -o $@
build/unit_tests: $(UOBJS) $(filter-out build/obj/main.o,$(OBJS)) build/nanoarrow/libnanoarrow.a
	$(CXX) $(OPT) -o $@ $^ $(LIBS)

# sanitizer build
AOBJS := $(patsubst src/%.c,build/asan/obj/%.o,$(SRCS)) $(patsubst src/%.cpp,build/asan/obj/%.o,$(CXXSRCS))
build/asan/obj/%.o: src/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(SAN) $(INC) $(DEFS) -MMD -MP -c $< -o $@
build/asan/obj/%.o: src/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXSTD) $(CXXWARN) $(SAN) $(CXXINC) -MMD -MP -c $< -o $@
AEOBJS := $(addprefix build/asan/obj/,$(addsuffix .o,$(ENGINE)))
build/asan/featherman: $(filter-out $(AEOBJS),$(AOBJS)) build/asan/libfeatherman-engine.so
	$(CC) $(SAN) -rdynamic -o $@ $(filter-out $(AEOBJS),$(AOBJS)) $(SYSLIBS) -ldl
build/asan/libfeatherman-engine.so: $(AEOBJS) build/nanoarrow/libnanoarrow.a
	$(CXX) $(SAN) -shared -o $@ $(AEOBJS) build/nanoarrow/libnanoarrow.a $(LIBS)
AUOBJS := $(patsubst tests/unit/%.c,build/asan/uobj/%.o,$(UNITSRC))
build/asan/uobj/%.o: tests/unit/%.c $(NACONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(SAN) $(INC) -Itests/unit $(DEFS) -MMD -MP -c $< -o $@
build/asan/unit_tests: $(AUOBJS) $(filter-out build/asan/obj/main.o,$(AOBJS)) build/nanoarrow/libnanoarrow.a
	$(CXX) $(SAN) -o $@ $^ $(LIBS)

# benchmark programs (bench/run.sh)
bench: build/bench/latency build/bench/fresh_query build/bench/authz_cost
build/bench/latency: bench/latency.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -o $@ $< $(shell pkg-config --cflags --libs libcurl) -pthread
build/bench/fresh_query: bench/fresh_query.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INC) $(DEFS) -o $@ $< -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb

build/bench/authz_cost: bench/authz_cost.c build/obj/engine/authz.o build/obj/engine/sqlparse.o build/obj/base/buf.o \
                        build/obj/base/err.o build/obj/base/xalloc.o
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) $(INC) $(DEFS) -c -o build/bench/authz_cost.o $<
	$(CXX) $(OPT) -o $@ build/bench/authz_cost.o $(filter %.o,$(filter-out $<,$^)) -L$(DUCKDB_DIR)/lib \
	  -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb

# libFuzzer target for the SQL guard's lexer (clang only; skipped where clang is missing).
# FUZZ_SECONDS bounds the run. The guard calls the authorizer, so the shim is linked in too.
FUZZ_SECONDS ?= 60
fuzz:
	@if command -v clang >/dev/null 2>&1; then \
	  mkdir -p build/fuzz/obj && \
	  clang++ $(CXXSTD) -g -O1 -fsanitize=fuzzer-no-link,address $(CXXINC) -c src/engine/sqlparse.cpp -o build/fuzz/obj/sqlparse_g.o && \
	  clang $(CSTD) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(INC) $(DEFS) -c tests/fuzz/fuzz_sqlguard.c -o build/fuzz/obj/fuzz_sqlguard.o && \
	  clang++ -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/fuzz_sqlguard build/fuzz/obj/fuzz_sqlguard.o \
	    -x c -std=c11 -D_GNU_SOURCE $(INC) $(DEFS) src/engine/sqlguard.c src/engine/authz.c src/base/buf.c src/base/err.c src/base/xalloc.c \
	    -x none build/fuzz/obj/sqlparse_g.o -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb && \
	  build/fuzz/fuzz_sqlguard -max_total_time=$(FUZZ_SECONDS) -max_len=4096; \
	else echo "fuzz: clang not found, skipped"; fi

# Differential libFuzzer target for the authorizer (tests/fuzz/fuzz_authz.c): the shim and the
# policy built with clang's sanitizers against the real libduckdb, seeded with a corpus of real
# DuckDB statements of every type. New inputs go to build/fuzz/corpus_authz. Needs clang
# (scripts/bootstrap.sh --test installs it); FUZZ_SECONDS bounds the run.
FUZZSAN := -g -O1 -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined
fuzz-authz:
	@command -v clang >/dev/null 2>&1 || { echo "fuzz-authz: clang is needed (scripts/bootstrap.sh --test installs it)"; exit 1; }
	@mkdir -p build/fuzz/obj build/fuzz/corpus_authz
	clang++ $(CXXSTD) $(CXXWARN) $(FUZZSAN) -fsanitize=fuzzer-no-link $(CXXINC) -c src/engine/sqlparse.cpp -o build/fuzz/obj/sqlparse.o
	for f in src/engine/authz.c src/base/buf.c src/base/err.c src/base/xalloc.c tests/fuzz/fuzz_authz.c; do \
	  clang $(CSTD) $(WARN) $(FUZZSAN) -fsanitize=fuzzer-no-link $(INC) $(DEFS) -c $$f -o build/fuzz/obj/$$(basename $$f .c).o || exit 1; done
	clang++ $(FUZZSAN) -fsanitize=fuzzer -o build/fuzz/fuzz_authz build/fuzz/obj/fuzz_authz.o build/fuzz/obj/authz.o \
	  build/fuzz/obj/buf.o build/fuzz/obj/err.o build/fuzz/obj/xalloc.o build/fuzz/obj/sqlparse.o \
	  -L$(DUCKDB_DIR)/lib -Wl,-rpath,$(DUCKDB_DIR)/lib -lduckdb $(shell pkg-config --libs jansson)
	build/fuzz/fuzz_authz -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -detect_leaks=0 -print_final_stats=1 \
	  -dict=tests/fuzz/authz.dict build/fuzz/corpus_authz tests/fuzz/corpus_authz

check-layers:
	scripts/check-layers.sh src
	scripts/check-alloc.sh src

# The install bundle needs no build: only config/, VERSION and the chart.
dist:
	scripts/dist.sh

clean:
	rm -rf build/obj build/uobj build/asan build/featherman build/libfeatherman-engine.so build/unit_tests build/nanoarrow \
	       build/bench

-include $(OBJS:.o=.d) $(UOBJS:.o=.d) $(AOBJS:.o=.d) $(AUOBJS:.o=.d)
