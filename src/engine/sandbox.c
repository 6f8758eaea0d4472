/* Landlock confinement (see sandbox.h), with raw syscalls: the build machine's
 * <linux/landlock.h> may be older than the kernel, so the ABI structures and flags used here are
 * declared locally (values from the kernel UAPI) and chosen by the ABI the kernel reports.
 *
 * Process-wide: landlock_restrict_self() confines only the calling thread (and the threads and
 * processes it later creates). DuckDB starts its worker threads when the database is opened,
 * before the sandbox can be applied (the catalog must be attached first), so:
 *   - where the kernel has LANDLOCK_RESTRICT_SELF_TSYNC (ABI >= 8), one call confines every
 *     thread of the process;
 *   - otherwise every other thread is made to confine itself: a real-time signal is sent to each
 *     thread listed in /proc/self/task (one at a time, waiting for its acknowledgement) and its
 *     handler sets no_new_privs and calls landlock_restrict_self with the same ruleset; the task
 *     list is re-read until a pass finds no unconfined thread (threads created meanwhile by a
 *     confined thread inherit its domain); the calling thread confines itself last. A thread
 *     that does not acknowledge within a few seconds (the signal blocked, or it is stuck) makes
 *     the call fail, so the caller never runs unconfined threads by mistake. Each thread then
 *     has its own (identical) domain rather than one shared domain; that only matters for
 *     Landlock scoping between threads, which featherman does not rely on.
 *
 * Rights: `ro` paths get READ_FILE|READ_DIR; `rw` paths also get WRITE_FILE, TRUNCATE, MAKE_REG,
 * MAKE_DIR, REMOVE_FILE, REMOVE_DIR and REFER (cross-directory renames, ABI >= 2). Everything
 * else the ABI knows is handled, so denied everywhere: EXECUTE (no program can be run), device
 * ioctls (ABI >= 5), making sockets/fifos/symlinks/devices. A path that is not a directory gets
 * only the file rights of its set. Where the ABI has scoping (>= 6), connecting to abstract unix
 * sockets created outside the sandbox is denied too. */
#include "engine/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* UAPI values (include/uapi/linux/landlock.h) */
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_RESTRICT_SELF_TSYNC (1U << 3) /* ABI 8 */

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};
struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct ll_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

#ifndef FEATHERMAN_EXTENSION_DIR
#define FEATHERMAN_EXTENSION_DIR "/nonexistent"
#endif
#ifndef FEATHERMAN_DUCKDB_LIBDIR
#define FEATHERMAN_DUCKDB_LIBDIR "/nonexistent"
#endif

void fm_sandbox_default_ro(const char ***paths, size_t *n) {
    /* /proc/self, not /proc: the rule is bound to the inode the symlink resolves to
     * (/proc/<our pid>) so other processes' /proc entries (same uid: environ, cmdline, fds)
     * stay out of reach. /proc/meminfo, /proc/cpuinfo and /sys/devices/system/cpu answer
     * memory and CPU-count questions libc and DuckDB may ask after start-up. */
    static const char *ro[] = {"/usr/lib",
                               "/lib",
                               "/lib64",
                               "/usr/lib64",
                               "/usr/local/lib",
                               "/etc/ssl",
                               "/etc/pki",
                               "/etc/ca-certificates",
                               "/usr/share/ca-certificates",
                               "/usr/share/zoneinfo",
                               "/etc/localtime",
                               "/etc/resolv.conf",
                               "/etc/hosts",
                               "/etc/nsswitch.conf",
                               "/etc/host.conf",
                               "/etc/gai.conf",
                               "/proc/self",
                               "/proc/meminfo",
                               "/proc/cpuinfo",
                               "/sys/devices/system/cpu",
                               "/dev/null",
                               "/dev/urandom",
                               "/dev/random",
                               FEATHERMAN_EXTENSION_DIR,
                               FEATHERMAN_DUCKDB_LIBDIR};
    *paths = ro;
    *n = sizeof ro / sizeof *ro;
}

static uint64_t fs_handled(int abi) {
    uint64_t a = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
    if (abi >= 2) a |= LL_FS_REFER;
    if (abi >= 3) a |= LL_FS_TRUNCATE;
    if (abi >= 5) a |= LL_FS_IOCTL_DEV;
    return a;
}

static int add_path(int rfd, const char *path, uint64_t access, uint64_t handled, fm_err *err) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0; /* absent: nothing to allow */
        return fm_fail(err, FM_E_INTERNAL, "sandbox: cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return fm_fail(err, FM_E_INTERNAL, "sandbox: cannot stat %s: %s", path, strerror(e));
    }
    struct ll_path_beneath_attr pb = {.allowed_access = access & handled, .parent_fd = fd};
    if (!S_ISDIR(st.st_mode)) pb.allowed_access &= LL_FILE_RIGHTS;
    long r = pb.allowed_access ? syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0) : 0;
    int e = errno;
    close(fd);
    if (r) return fm_fail(err, FM_E_INTERNAL, "sandbox: cannot allow %s: %s", path, strerror(e));
    return 0;
}

/* ---- confining every thread ---- */

static atomic_int sig_fd = -1;   /* ruleset the handler applies; -1 outside fm_sandbox_apply */
static atomic_int sig_target;    /* tid that is expected to answer */
static atomic_int sig_ack;       /* 0 waiting, 1 done, -errno failed */

static int restrict_thread(int fd, unsigned flags) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -errno;
    if (syscall(SYS_landlock_restrict_self, fd, flags)) return -errno;
    return 1;
}

static void on_confine_signal(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    int saved = errno;
    if (si->si_code == SI_TKILL && si->si_pid == getpid() && (int)syscall(SYS_gettid) == atomic_load(&sig_target)) {
        int fd = atomic_load(&sig_fd);
        atomic_store(&sig_ack, fd >= 0 ? restrict_thread(fd, 0) : -EBADF);
    }
    errno = saved;
}

typedef struct {
    pid_t *v;
    size_t n, cap;
} tid_set;

static int tid_seen(const tid_set *s, pid_t t) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == t) return 1;
    return 0;
}

static void tid_add(tid_set *s, pid_t t) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = fm_xreallocarray(s->v, s->cap, sizeof *s->v);
    }
    s->v[s->n++] = t;
}

/* signal one thread and wait for it to confine itself; 0 when done or the thread is gone */
static int confine_other(pid_t pid, pid_t tid, int signo, fm_err *err) {
    atomic_store(&sig_ack, 0);
    atomic_store(&sig_target, tid);
    if (syscall(SYS_tgkill, pid, tid, signo)) {
        atomic_store(&sig_target, 0);
        if (errno == ESRCH) return 0;
        return fm_fail(err, FM_E_INTERNAL, "sandbox: cannot signal thread %d: %s", (int)tid, strerror(errno));
    }
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    for (long waited = 0; waited < 5L * 5000; waited++) {  /* about 5 s */
        int a = atomic_load(&sig_ack);
        if (a == 1) {
            atomic_store(&sig_target, 0);
            return 0;
        }
        if (a < 0) {
            atomic_store(&sig_target, 0);
            return fm_fail(err, FM_E_INTERNAL, "sandbox: thread %d cannot apply Landlock: %s", (int)tid,
                           strerror(-a));
        }
        nanosleep(&ts, NULL);
    }
    atomic_store(&sig_target, 0);
    if (syscall(SYS_tgkill, pid, tid, 0) && errno == ESRCH) return 0; /* exited meanwhile */
    return fm_fail(err, FM_E_INTERNAL, "sandbox: thread %d did not confine itself (signal blocked?)", (int)tid);
}

static int confine_all_threads(int rfd, fm_err *err) {
    pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
    int signo = SIGRTMIN + 5;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_confine_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* left installed: a late delivery finds sig_fd == -1 and does nothing */
    if (sigaction(signo, &sa, NULL)) return fm_fail(err, FM_E_INTERNAL, "sandbox: sigaction: %s", strerror(errno));
    atomic_store(&sig_fd, rfd);
    tid_set done = {0};
    int rc = 0;
    for (int pass = 0;; pass++) {
        if (pass > 1000) {
            rc = fm_fail(err, FM_E_INTERNAL, "sandbox: threads keep appearing, cannot confine them all");
            break;
        }
        DIR *d = opendir("/proc/self/task");
        if (!d) {
            rc = fm_fail(err, FM_E_INTERNAL, "sandbox: cannot list threads: %s", strerror(errno));
            break;
        }
        size_t fresh = 0;
        struct dirent *de;
        while (!rc && (de = readdir(d)) != NULL) {
            char *end;
            long t = strtol(de->d_name, &end, 10);
            if (*end || t <= 0 || (pid_t)t == self || tid_seen(&done, (pid_t)t)) continue;
            fresh++;
            rc = confine_other(pid, (pid_t)t, signo, err);
            tid_add(&done, (pid_t)t);
        }
        closedir(d);
        if (rc || !fresh) break;
    }
    free(done.v);
    if (!rc) {
        int r = restrict_thread(rfd, 0);
        if (r < 0) rc = fm_fail(err, FM_E_INTERNAL, "sandbox: landlock_restrict_self: %s", strerror(-r));
    }
    atomic_store(&sig_fd, -1);
    return rc;
}

int fm_sandbox_apply(const fm_sandbox_rules *rules, int *applied, int *abi, fm_err *err) {
    *applied = 0;
    *abi = 0;
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    if (v <= 0) return 0; /* ENOSYS (old kernel) or EOPNOTSUPP (Landlock not enabled at boot) */
    *abi = (int)v;
    uint64_t handled = fs_handled(*abi);
    struct ll_ruleset_attr ra = {.handled_access_fs = handled};
    size_t rsize = sizeof ra.handled_access_fs;
    if (*abi >= 4) {
        rsize = offsetof(struct ll_ruleset_attr, scoped);
        if (rules->nports > 0 || rules->restrict_net) ra.handled_access_net = LL_NET_CONNECT_TCP;
    }
    if (*abi >= 6) {
        rsize = sizeof ra;
        ra.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET;
    }
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, rsize, 0);
    if (rfd < 0) return fm_fail(err, FM_E_INTERNAL, "sandbox: landlock_create_ruleset: %s", strerror(errno));
    uint64_t ro = LL_FS_READ_FILE | LL_FS_READ_DIR;
    uint64_t rw = ro | LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_MAKE_REG | LL_FS_MAKE_DIR | LL_FS_REMOVE_FILE |
                  LL_FS_REMOVE_DIR | LL_FS_REFER;
    int rc = 0;
    for (size_t i = 0; !rc && i < rules->nro; i++)
        if (rules->ro[i]) rc = add_path(rfd, rules->ro[i], ro, handled, err);
    for (size_t i = 0; !rc && i < rules->nrw; i++)
        if (rules->rw[i]) rc = add_path(rfd, rules->rw[i], rw, handled, err);
    if (!rc && ra.handled_access_net) {
        for (size_t i = 0; !rc && i < rules->nports; i++) {
            if (rules->ports[i] <= 0 || rules->ports[i] > 65535) {
                rc = fm_fail(err, FM_E_INVALID, "sandbox: bad port %d", rules->ports[i]);
                break;
            }
            struct ll_net_port_attr np = {.allowed_access = LL_NET_CONNECT_TCP, .port = (uint64_t)rules->ports[i]};
            if (syscall(SYS_landlock_add_rule, rfd, LL_RULE_NET_PORT, &np, 0))
                rc = fm_fail(err, FM_E_INTERNAL, "sandbox: cannot allow TCP port %d: %s", rules->ports[i],
                             strerror(errno));
        }
    }
    if (!rc) {
        int done = 0;
        if (*abi >= 8) { /* one call for every thread */
            int r = restrict_thread(rfd, LL_RESTRICT_SELF_TSYNC);
            if (r == 1) done = 1;
            else if (r != -EINVAL) rc = fm_fail(err, FM_E_INTERNAL, "sandbox: landlock_restrict_self: %s", strerror(-r));
        }
        if (!rc && !done) rc = confine_all_threads(rfd, err);
    }
    close(rfd);
    if (rc) return -1;
    *applied = 1;
    return 0;
}

void fm_sandbox_scrub_env(const char *name) {
    char *v = getenv(name);
    if (!v) return;
    /* the entry ("NAME=value", v points past the '=') may live in the initial environment block:
     * wipe the bytes themselves, the name too, so that not even which credentials there were shows */
    size_t nl = strlen(name) + 1;
    char *entry = v - nl;
    size_t len = nl + strlen(v);
    unsetenv(name);
    memset(entry, 0, len);
}

int fm_sandbox_endpoint_port(const char *endpoint, bool use_ssl) {
    int dflt = use_ssl ? 443 : 80;
    if (!endpoint) return dflt;
    const char *h = endpoint;
    if (!strncmp(h, "https://", 8)) {
        h += 8;
        dflt = 443;
    } else if (!strncmp(h, "http://", 7)) {
        h += 7;
        dflt = 80;
    }
    size_t hl = strcspn(h, "/?#");
    const char *colon = NULL;
    if (h[0] == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', hl);
        if (close && close + 1 < h + hl && close[1] == ':') colon = close + 1;
    } else {
        colon = memchr(h, ':', hl);
    }
    if (!colon) return dflt;
    const char *p = colon + 1, *end = h + hl;
    if (p == end) return -1;
    long port = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        port = port * 10 + (*p - '0');
        if (port > 65535) return -1;
    }
    return port >= 1 ? (int)port : -1;
}

#if defined(__SANITIZE_ADDRESS__)
#define FM_SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FM_SANDBOX_ASAN 1
#endif
#endif

unsigned long long fm_sandbox_data_headroom(unsigned long long memory) {
    if (!memory) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        return pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
    }
    /* RLIMIT_DATA counts address space reserved, not memory used: DuckDB's allocator reserves
     * well ahead of what it touches, so the bound is loose; it is there to stop an allocation
     * many times the memory_limit */
    return 2 * memory + (768ULL << 20);
}

int fm_sandbox_limit_data(unsigned long long headroom, unsigned long long *limit, fm_err *err) {
    *limit = 0;
#ifdef FM_SANDBOX_ASAN
    (void)headroom;
    (void)err;
    return 0;
#else
    if (!headroom) return 0;
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return fm_fail(err, FM_E_INTERNAL, "memory limit: cannot read /proc/self/status: %s", strerror(errno));
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmData: %llu kB", &kb) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found) return fm_fail(err, FM_E_INTERNAL, "memory limit: no VmData in /proc/self/status");
    unsigned long long v = kb * 1024 + headroom;
    struct rlimit rl = {.rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v};
    if (setrlimit(RLIMIT_DATA, &rl))
        return fm_fail(err, FM_E_INTERNAL, "memory limit: setrlimit(RLIMIT_DATA, %llu): %s", v, strerror(errno));
    *limit = v;
    return 0;
#endif
}
