/* OS-level confinement of a process that runs user SQL, as DuckDB's security model asks for:
 * after the engine has opened its catalog and loaded its extensions, fm_sandbox_apply restricts
 * the whole process with Landlock (Linux ≥ 5.13, unprivileged) to:
 *   read+write beneath each `rw` path (the lake's data directory, the metadata file's directory,
 *   the temp directory), read-only beneath each `ro` path (the extension directory, CA
 *   certificates, /proc/self, shared libraries' directories, timezone data), nothing else.
 * Where the kernel supports Landlock ABI ≥ 4 and `ports` is non-empty or `restrict_net` is set,
 * TCP connect() is limited to those ports (S3 endpoint, Postgres): with restrict_net and no
 * ports, no outgoing TCP at all (a lake on local disk needs none); with neither, the network is
 * not restricted. bind() is never restricted, so the server's own listener is unaffected. Paths that do not exist are skipped; a path that is a file (not a
 * directory) gets file rights only, so pass the directory when DuckDB writes beside a file
 * (a .wal next to a metadata database). Execution of programs is denied everywhere.
 * Process-wide: Landlock confines a thread, not a process. On kernels with
 * LANDLOCK_RESTRICT_SELF_TSYNC (ABI ≥ 8) one call covers all threads; otherwise (e.g. Linux
 * 6.18, ABI 7) every existing thread is signalled (SIGRTMIN+5) and confines itself from the
 * handler before the caller does: callers must not block SIGRTMIN+5 in any thread and must
 * not change its disposition afterwards; a thread that does not answer within ~5 s makes the
 * call fail. Threads started later inherit the confinement. Where the kernel has no Landlock, it returns
 * 0 and sets *applied = 0 so the caller can log a warning and report it in /status; the
 * DuckDB settings and fm_sqlguard still apply. Returns -1 with err only on a real failure
 * (a rule that cannot be added). Must be called once, before any user query. */
#ifndef FM_SANDBOX_H
#define FM_SANDBOX_H
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
    const char **rw;
    size_t nrw;
    const char **ro;
    size_t nro;
    const int *ports;
    size_t nports;
    bool restrict_net;
} fm_sandbox_rules;

/* Credentials handed over in the environment must not outlive start-up: once they are read into
 * memory, fm_sandbox_scrub_env overwrites the entry of $name (name and value) in place (the initial environment
 * block is what /proc/<pid>/environ shows, and unsetenv alone leaves it there) and removes it
 * from the environment. A name that is not set is left alone. */
void fm_sandbox_scrub_env(const char *name);
/* the TCP port of an object-store endpoint ("host", "host:port", "http(s)://host[:port][/…]",
 * "[v6]:port"): the explicit port, else 443 with TLS and 80 without; NULL endpoint = AWS (443
 * or 80). -1 when the port is not a number in 1..65535. */
int fm_sandbox_endpoint_port(const char *endpoint, bool use_ssl);
/* The last line behind DuckDB's memory_limit, which does not cover every allocation (a string
 * built by a scalar function — repeat(), string_agg() — lives outside the buffer pool): the
 * process's data segment (RLIMIT_DATA, soft and hard) is capped at what is mapped now plus
 * `headroom` bytes, so that such an allocation fails inside DuckDB (an "Out of Memory Error" for
 * that query) instead of the kernel killing the process. In a build with AddressSanitizer (whose
 * allocator aborts rather than fail an allocation) nothing is set. *limit = the limit set, 0 when
 * none; -1 with err when /proc/self/status cannot be read or setrlimit fails. */
int fm_sandbox_limit_data(unsigned long long headroom, unsigned long long *limit, fm_err *err);
/* the headroom for engines whose memory_limit values add up to `memory` bytes: twice that plus
 * 768 MiB (address space reserved, not only touched, counts: glibc reserves 64 MiB per thread
 * arena); memory 0 (no limit known) = the machine's physical memory */
unsigned long long fm_sandbox_data_headroom(unsigned long long memory);

/* the read-only paths a DuckDB process needs after start-up (libraries, CA certificates, zoneinfo, /proc/self, the extension dir) */
void fm_sandbox_default_ro(const char ***paths, size_t *n);
int fm_sandbox_apply(const fm_sandbox_rules *rules, int *applied, int *abi, fm_err *err);
#endif
