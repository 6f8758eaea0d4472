/* The Landlock sandbox, in a forked child (confinement cannot be undone): a DuckDB opened
 * BEFORE the sandbox (so its worker threads already exist, as in featherman) must not read
 * files outside the allowed directories through read_csv (DuckDB's own external-access
 * settings left on) nor through sqlite_scan; a thread started before the sandbox is confined
 * too (process-wide); writes work beneath the rw directory and fail beneath the ro one.
 * Without Landlock the test prints a skip line and passes. */
#include <duckdb.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/sandbox.h"
#include "unit.h"

static int exec_ok(duckdb_connection c, const char *sql) {
    duckdb_result r;
    int ok = duckdb_query(c, sql, &r) == DuckDBSuccess;
    duckdb_destroy_result(&r);
    return ok;
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int open_errno(const char *path, int flags) {
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

/* a thread that exists before the sandbox and tries to read `path` when told to */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, done, result;
    const char *path;
} probe = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL};

static void *probe_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&probe.mu);
    while (!probe.go) pthread_cond_wait(&probe.cv, &probe.mu);
    pthread_mutex_unlock(&probe.mu);
    int r = open_errno(probe.path, O_RDONLY);
    pthread_mutex_lock(&probe.mu);
    probe.result = r;
    probe.done = 1;
    pthread_cond_broadcast(&probe.cv);
    pthread_mutex_unlock(&probe.mu);
    return NULL;
}

#define CHILD_CHECK(cond)                                                                        \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "  [child] %s:%d: CHECK(%s) failed (errno %d)\n", __FILE__, __LINE__, \
                    #cond, errno);                                                               \
            bad = 1;                                                                             \
        }                                                                                        \
    } while (0)

static int child(const char *rwdir, const char *rodir, const char *outdir) {
    int bad = 0;
    char p[4096];
    duckdb_database db;
    duckdb_connection c;
    duckdb_config dc;
    duckdb_create_config(&dc);
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "threads", "4");
    char *oerr = NULL;
    if (duckdb_open_ext(NULL, &db, dc, &oerr) == DuckDBError || duckdb_connect(db, &c) == DuckDBError) {
        fprintf(stderr, "  [child] cannot open DuckDB: %s\n", oerr ? oerr : "?");
        return 1;
    }
    duckdb_destroy_config(&dc);
    CHILD_CHECK(exec_ok(c, "LOAD sqlite_scanner"));

    pthread_t th;
    snprintf(p, sizeof p, "%s/secret.csv", outdir);
    probe.path = p;
    CHILD_CHECK(pthread_create(&th, NULL, probe_thread, NULL) == 0);

    const char **dro;
    size_t ndro;
    fm_sandbox_default_ro(&dro, &ndro);
    const char *ro[64];
    size_t nro = 0;
    for (size_t i = 0; i < ndro && nro < 60; i++) ro[nro++] = dro[i];
    ro[nro++] = rodir;
    ro[nro++] = "/nonexistent/featherman/path"; /* skipped */
    const char *rw[] = {rwdir};
    fm_sandbox_rules rules = {.rw = rw, .nrw = 1, .ro = ro, .nro = nro};
    int applied = 0, abi = 0;
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_sandbox_apply(&rules, &applied, &abi, &e);
    if (rc) fprintf(stderr, "  [child] fm_sandbox_apply: %s\n", e.msg);
    CHILD_CHECK(rc == 0 && applied == 1 && abi >= 1);

    /* the thread that existed before is confined as well */
    pthread_mutex_lock(&probe.mu);
    probe.go = 1;
    pthread_cond_broadcast(&probe.cv);
    while (!probe.done) pthread_cond_wait(&probe.cv, &probe.mu);
    pthread_mutex_unlock(&probe.mu);
    pthread_join(th, NULL);
    CHILD_CHECK(probe.result == EACCES);

    /* plain file access */
    CHILD_CHECK(open_errno(p, O_RDONLY) == EACCES);
    if (access("/etc/hostname", F_OK) == 0) CHILD_CHECK(open_errno("/etc/hostname", O_RDONLY) == EACCES);
    CHILD_CHECK(open_errno("/etc/passwd", O_RDONLY) == EACCES);
    snprintf(p, sizeof p, "%s/new.txt", outdir);
    CHILD_CHECK(open_errno(p, O_WRONLY | O_CREAT) == EACCES);
    snprintf(p, sizeof p, "%s/ro.csv", rodir);
    CHILD_CHECK(open_errno(p, O_RDONLY) == 0);
    CHILD_CHECK(open_errno(p, O_WRONLY) == EACCES);
    snprintf(p, sizeof p, "%s/new.txt", rodir);
    CHILD_CHECK(open_errno(p, O_WRONLY | O_CREAT) == EACCES);
    snprintf(p, sizeof p, "%s/new.txt", rwdir);
    CHILD_CHECK(write_file(p, "ok\n") == 0);
    char p2[4096];
    snprintf(p2, sizeof p2, "%s/sub", rwdir);
    CHILD_CHECK(mkdir(p2, 0700) == 0);
    snprintf(p2, sizeof p2, "%s/sub/moved.txt", rwdir);
    CHILD_CHECK(rename(p, p2) == 0); /* REFER within rw (ABI >= 2) */
    CHILD_CHECK(unlink(p2) == 0);
    CHILD_CHECK(open_errno("/dev/null", O_RDONLY) == 0);
    CHILD_CHECK(open_errno("/proc/self/status", O_RDONLY) == 0);
    CHILD_CHECK(execl("/bin/true", "true", (char *)NULL) == -1 && errno == EACCES);

    /* DuckDB with its external access left on: the sandbox alone stops it */
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s/secret.csv')", outdir);
    CHILD_CHECK(!exec_ok(c, sql));
    snprintf(sql, sizeof sql, "SELECT * FROM read_text('%s/secret.csv')", outdir);
    CHILD_CHECK(!exec_ok(c, sql));
    snprintf(sql, sizeof sql, "SELECT * FROM sqlite_scan('%s/out.sqlite', 't')", outdir);
    CHILD_CHECK(!exec_ok(c, sql));
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s/ro.csv')", rodir);
    CHILD_CHECK(exec_ok(c, sql));
    snprintf(sql, sizeof sql, "COPY (SELECT range AS i FROM range(100000)) TO '%s/out.parquet'", rwdir);
    CHILD_CHECK(exec_ok(c, sql));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM read_parquet('%s/out.parquet')", rwdir);
    CHILD_CHECK(exec_ok(c, sql));
    snprintf(sql, sizeof sql, "COPY (SELECT 1) TO '%s/x.csv'", outdir);
    CHILD_CHECK(!exec_ok(c, sql));
    duckdb_disconnect(&c);
    duckdb_close(&db);
    return bad;
}

FM_TEST(sandbox_landlock_confines_process) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
    if (abi <= 0) {
        printf("skip sandbox_landlock_confines_process: this kernel has no Landlock\n");
        const char **ro;
        size_t n;
        fm_sandbox_default_ro(&ro, &n);
        fm_sandbox_rules rules = {.ro = ro, .nro = n};
        int applied = 1, a = 1;
        CHECK(fm_sandbox_apply(&rules, &applied, &a, NULL) == 0);
        CHECK(applied == 0);
        return;
    }
    char base[] = "/tmp/fm_sandbox_XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char rwdir[256], rodir[256], outdir[256], path[512];
    snprintf(rwdir, sizeof rwdir, "%s/rw", base);
    snprintf(rodir, sizeof rodir, "%s/ro", base);
    snprintf(outdir, sizeof outdir, "%s/out", base);
    CHECK(mkdir(rwdir, 0700) == 0 && mkdir(rodir, 0700) == 0 && mkdir(outdir, 0700) == 0);
    snprintf(path, sizeof path, "%s/secret.csv", outdir);
    CHECK(write_file(path, "secret\nhunter2\n") == 0);
    snprintf(path, sizeof path, "%s/ro.csv", rodir);
    CHECK(write_file(path, "a\n1\n") == 0);
    /* a sqlite database outside, made by DuckDB's sqlite extension */
    duckdb_database db;
    duckdb_connection c;
    duckdb_config dc;
    duckdb_create_config(&dc);
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    CHECK(duckdb_open_ext(NULL, &db, dc, NULL) == DuckDBSuccess);
    duckdb_destroy_config(&dc);
    CHECK(duckdb_connect(db, &c) == DuckDBSuccess);
    char sql[1024];
    snprintf(sql, sizeof sql, "LOAD sqlite_scanner; ATTACH '%s/out.sqlite' AS s (TYPE sqlite); "
                              "CREATE TABLE s.t AS SELECT 42 AS a; DETACH s", outdir);
    CHECK(exec_ok(c, sql));
    snprintf(sql, sizeof sql, "SELECT * FROM sqlite_scan('%s/out.sqlite', 't')", outdir);
    CHECK(exec_ok(c, sql)); /* readable before the sandbox */
    duckdb_disconnect(&c);
    duckdb_close(&db);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(child(rwdir, rodir, outdir));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status)) fprintf(stderr, "  child died: status %d\n", status);
    printf("     (Landlock ABI %ld)\n", abi);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
}

FM_TEST(sandbox_default_ro_paths) {
    const char **ro;
    size_t n;
    fm_sandbox_default_ro(&ro, &n);
    int ext = 0, proc = 0, lib = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(ro[i] && ro[i][0] == '/');
        if (!strcmp(ro[i], FEATHERMAN_EXTENSION_DIR)) ext = 1;
        if (!strcmp(ro[i], "/proc/self")) proc = 1;
        if (!strcmp(ro[i], "/proc")) proc = -1; /* all of /proc would expose other processes */
        if (!strcmp(ro[i], FEATHERMAN_DUCKDB_LIBDIR)) lib = 1;
    }
    CHECK(ext == 1);
    CHECK(proc == 1);
    CHECK(lib == 1);
}

/* connect() to 127.0.0.1:port; 0 or errno */
static int connect_errno(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(s, (struct sockaddr *)&a, sizeof a) ? errno : 0;
    close(s);
    return r;
}

/* a listening socket on a free loopback port; the port in *port */
static int listener(int *port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8) ||
        getsockname(s, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    return s;
}

static int net_child(int allowed, int denied, int restrict_only) {
    int bad = 0;
    fm_sandbox_rules rules = {.ports = restrict_only ? NULL : &allowed, .nports = restrict_only ? 0 : 1,
                              .restrict_net = true};
    fm_sandbox_default_ro(&rules.ro, &rules.nro);
    int applied = 0, abi = 0;
    fm_err e;
    fm_err_clear(&e);
    CHILD_CHECK(fm_sandbox_apply(&rules, &applied, &abi, &e) == 0 && applied == 1);
    if (restrict_only) {
        CHILD_CHECK(connect_errno(allowed) == EACCES); /* no outgoing TCP at all */
    } else {
        CHILD_CHECK(connect_errno(allowed) == 0);
    }
    CHILD_CHECK(connect_errno(denied) == EACCES);
    /* the server's own listener still binds and accepts */
    int p = 0, s = listener(&p);
    CHILD_CHECK(s >= 0);
    if (s >= 0) close(s);
    return bad;
}

FM_TEST(sandbox_limits_outgoing_tcp_to_the_given_ports) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
    if (abi < 4) {
        printf("skip sandbox_limits_outgoing_tcp_to_the_given_ports: Landlock ABI %ld has no network rules\n", abi);
        return;
    }
    int pa = 0, pb = 0;
    int a = listener(&pa), b = listener(&pb);
    CHECK(a >= 0 && b >= 0);
    for (int restrict_only = 0; restrict_only < 2; restrict_only++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(net_child(pa, pb, restrict_only));
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(connect_errno(pb) == 0); /* the parent is not confined */
    close(a);
    close(b);
}

FM_TEST(sandbox_scrub_env_wipes_the_entry) {
    CHECK(setenv("FM_TEST_SCRUB_SECRET", "hunter2-value", 1) == 0);
    char *v = getenv("FM_TEST_SCRUB_SECRET");
    char *entry = v - strlen("FM_TEST_SCRUB_SECRET=");
    size_t len = strlen(entry);
    CHECK(!strncmp(entry, "FM_TEST_SCRUB_SECRET=hunter2-value", len));
    fm_sandbox_scrub_env("FM_TEST_SCRUB_SECRET");
    CHECK(getenv("FM_TEST_SCRUB_SECRET") == NULL);
    /* setenv's copy is ours to inspect: wiped, not just unlinked (it was leaked on purpose by libc) */
    for (size_t i = 0; i < len; i++) CHECK(entry[i] == 0);
    fm_sandbox_scrub_env("FM_TEST_SCRUB_NOT_SET"); /* absent: nothing happens */
}

FM_TEST(sandbox_endpoint_port) {
    CHECK(fm_sandbox_endpoint_port(NULL, true) == 443);
    CHECK(fm_sandbox_endpoint_port(NULL, false) == 80);
    CHECK(fm_sandbox_endpoint_port("minio.local", true) == 443);
    CHECK(fm_sandbox_endpoint_port("minio.local", false) == 80);
    CHECK(fm_sandbox_endpoint_port("127.0.0.1:9000", false) == 9000);
    CHECK(fm_sandbox_endpoint_port("http://minio:9001/path", true) == 9001);
    CHECK(fm_sandbox_endpoint_port("https://s3.example.com", false) == 443);
    CHECK(fm_sandbox_endpoint_port("http://s3.example.com/x:1", true) == 80);
    CHECK(fm_sandbox_endpoint_port("[::1]:9002", false) == 9002);
    CHECK(fm_sandbox_endpoint_port("[::1]", true) == 443);
    CHECK(fm_sandbox_endpoint_port("host:", false) == -1);
    CHECK(fm_sandbox_endpoint_port("host:0", false) == -1);
    CHECK(fm_sandbox_endpoint_port("host:65536", false) == -1);
    CHECK(fm_sandbox_endpoint_port("host:9x", false) == -1);
}
