/* The DuckDB roles' option parsing (engine/role_opts.h, local.h, worker.h): every malformed flag
 * refused naming it, every path option absolute, and the stored-path mismatch read from DuckLake's
 * message (lake_open.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/lake_open.h"
#include "engine/local.h"
#include "engine/role_opts.h"
#include "engine/worker.h"
#include "unit.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))

FM_TEST(role_path_clean_is_lexical) {
    const char *cases[][2] = {{"/a/b", "/a/b"},        {"/a/./b/", "/a/b"},  {"//a//b//", "/a/b"},
                              {"/a/b/../c", "/a/c"},   {"/..", "/"},         {"/a/../..", "/"},
                              {"/", "/"},              {"/a/.", "/a"},       {"/a/..b/c", "/a/..b/c"},
                              {"/a/b/c/../../d", "/a/d"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i][0]);
        fm_role_path_clean(buf);
        CHECK_STR(buf, cases[i][1]);
    }
}

FM_TEST(role_opt_path_is_absolute_against_the_current_directory) {
    char cwd[PATH_MAX], want[PATH_MAX + 32];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    fm_err e;
    char *p = NULL;
    CHECK(fm_role_opt_path("state", "build/x", false, &p, &e) == 0);
    snprintf(want, sizeof want, "%s/build/x", cwd);
    CHECK_STR(p, want);
    CHECK(fm_role_opt_path("state", "./build/../x/", false, &p, &e) == 0); /* replaces, frees the old */
    snprintf(want, sizeof want, "%s/x", cwd);
    CHECK_STR(p, want);
    CHECK(fm_role_opt_path("state", "/abs//y/", false, &p, &e) == 0);
    CHECK_STR(p, "/abs/y");
    CHECK(fm_role_opt_path("state", "", false, &p, &e) == -1 && strstr(e.msg, "--state: expected a path"));
    CHECK_STR(p, "/abs/y");
    free(p);
}

FM_TEST(role_opt_numbers_and_sizes_are_checked) {
    fm_err e;
    int v = 7;
    const char *bad_slots[] = {"0", "-1", "4x", "", " 4", "1025", NULL};
    for (int i = 0; bad_slots[i]; i++) {
        CHECK(fm_role_opt_slots(bad_slots[i], &v, &e) == -1 && v == 7);
        CHECK(strstr(e.msg, "--slots: expected an integer from 1 to 1024") != NULL);
    }
    CHECK(fm_role_opt_slots("16", &v, &e) == 0 && v == 16);
    CHECK(fm_role_opt_threads("-1", &v, &e) == -1 && strstr(e.msg, "--threads") && strstr(e.msg, "\"-1\""));
    CHECK(fm_role_opt_threads("8", &v, &e) == 0 && v == 8);
    char *m = NULL;
    CHECK(fm_role_opt_memory_limit("819MiB", &m, &e) == 0);
    CHECK_STR(m, "858783744B");
    CHECK(fm_role_opt_memory_limit("2GB", &m, &e) == 0);
    CHECK_STR(m, "2000000000B");
    CHECK(fm_role_opt_memory_limit("1M", &m, &e) == -1 && strstr(e.msg, "--memory-limit: expected a size"));
    CHECK(fm_role_opt_memory_limit("lots", &m, &e) == -1 && strstr(e.msg, "\"lots\""));
    CHECK_STR(m, "2000000000B");
    free(m);
    char *t = NULL;
    CHECK(fm_role_opt_max_temp_size("10GiB", &t, &e) == 0);
    CHECK_STR(t, "10737418240B");
    CHECK(fm_role_opt_max_temp_size("1K", &t, &e) == -1 && strstr(e.msg, "--max-temp-size: expected a size"));
    CHECK(fm_role_opt_max_temp_size("lots", &t, &e) == -1 && strstr(e.msg, "--max-temp-size") && strstr(e.msg, "\"lots\""));
    CHECK_STR(t, "10737418240B");
    free(t);
}

/* fm_local_cmd on argv; 0/1/-1 as it returns, the message in e */
static int local_cmd(int argc, char **argv, fm_local_config *cfg, fm_err *e) {
    fm_err_clear(e);
    return fm_local_cmd(argc, argv, cfg, e);
}

FM_TEST(local_cmd_refuses_malformed_flags_naming_them) {
    struct {
        const char *flag, *value, *needle;
    } cases[] = {{"--slots", "4x", "--slots: expected an integer"},
                 {"--slots", "0", "--slots: expected an integer"},
                 {"--threads", "-1", "--threads: expected an integer"},
                 {"--memory-limit", "2 GB", "--memory-limit: expected a size"},
                 {"--listen", "localhost", "--listen: expected ADDR:PORT, got \"localhost\""},
                 {"--state", "", "--state: expected a path"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"local", "--manifests", "m", (char *)cases[i].flag, (char *)cases[i].value, NULL};
        fm_local_config cfg;
        fm_err e;
        CHECK(local_cmd(ARGC(argv) - 1, argv, &cfg, &e) == -1);
        if (!strstr(e.msg, cases[i].needle)) fprintf(stderr, "  got: %s\n", e.msg);
        CHECK(strstr(e.msg, cases[i].needle) != NULL);
        fm_local_config_free(&cfg);
    }
    char *a1[] = {"local", "--manifests", "m", "--bogus", NULL};
    char *a2[] = {"local", "--manifests", "m", "--slots", NULL};
    char *a3[] = {"local", "--manifests", "m", "stray", NULL};
    char *a4[] = {"local", "--state", "s", NULL};
    char *a5[] = {"local", "--manifests", "m", "--no-sandbox=yes", NULL};
    char *a6[] = {"local", "--manifests", "m", "-x", NULL};
    char **argvs[] = {a1, a2, a3, a4, a5, a6};
    int argcs[] = {ARGC(a1) - 1, ARGC(a2) - 1, ARGC(a3) - 1, ARGC(a4) - 1, ARGC(a5) - 1, ARGC(a6) - 1};
    const char *needles[] = {"unknown option \"--bogus\"", "--slots: expected a value", "unexpected argument \"stray\"",
                             "--manifests: a directory of manifests is required",
                             "--no-sandbox: takes no value, got \"--no-sandbox=yes\"", "unknown option -x"};
    for (int i = 0; i < 6; i++) {
        fm_local_config cfg;
        fm_err e;
        CHECK(local_cmd(argcs[i], argvs[i], &cfg, &e) == -1);
        if (!strstr(e.msg, needles[i])) fprintf(stderr, "  got: %s\n", e.msg);
        CHECK(strstr(e.msg, needles[i]) != NULL);
        fm_local_config_free(&cfg);
    }
}

FM_TEST(local_cmd_makes_every_path_absolute) {
    char cwd[PATH_MAX], want[PATH_MAX + 64];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char *argv[] = {"local", "--manifests", "m", "--state", "build/x", "--token-file", "./tok", "--slots", "2",
                    "--threads", "3", "--memory-limit", "64MiB", "--listen", "127.0.0.1:9999", "--no-sandbox", NULL};
    fm_local_config cfg;
    fm_err e;
    CHECK(local_cmd(ARGC(argv) - 1, argv, &cfg, &e) == 0);
    snprintf(want, sizeof want, "%s/m", cwd);
    CHECK_STR(cfg.manifests, want);
    snprintf(want, sizeof want, "%s/build/x", cwd);
    CHECK_STR(cfg.state, want);
    snprintf(want, sizeof want, "%s/tok", cwd);
    CHECK_STR(cfg.token_file, want);
    CHECK(cfg.slots == 2 && cfg.threads == 3 && cfg.port == 9999 && !cfg.sandbox);
    CHECK_STR(cfg.memory_limit, "67108864B");
    CHECK_STR(cfg.listen_addr, "127.0.0.1");
    fm_local_config_free(&cfg);

    /* $FEATHERMAN_STATE, relative, is made absolute the same way */
    char *old = getenv("FEATHERMAN_STATE") ? strdup(getenv("FEATHERMAN_STATE")) : NULL;
    setenv("FEATHERMAN_STATE", "rel/state", 1);
    char *argv2[] = {"local", "--manifests", "/m", NULL};
    CHECK(local_cmd(ARGC(argv2) - 1, argv2, &cfg, &e) == 0);
    snprintf(want, sizeof want, "%s/rel/state", cwd);
    CHECK_STR(cfg.state, want);
    CHECK(cfg.slots == 4 && cfg.port == 8080 && cfg.sandbox && !cfg.memory_limit && !cfg.token_file);
    fm_local_config_free(&cfg);
    if (old) setenv("FEATHERMAN_STATE", old, 1);
    else unsetenv("FEATHERMAN_STATE");
    free(old);

    char *help[] = {"local", "--help", NULL};
    CHECK(local_cmd(ARGC(help) - 1, help, &cfg, &e) == 1);
    fm_local_config_free(&cfg);
}

FM_TEST(worker_cmd_checks_mode_operation_and_flags) {
    struct {
        const char *args[6];
        const char *needle;
    } cases[] = {{{"worker", "serve", "--slots", "0"}, "--slots: expected an integer"},
                 {{"worker", "serve", "--slots", "4x"}, "--slots: expected an integer"},
                 {{"worker", "serve", "--threads", "-1"}, "--threads: expected an integer"},
                 {{"worker", "serve", "--listen", "nope"}, "--listen: expected ADDR:PORT, got \"nope\""},
                 {{"worker", "job", "frob"}, "job: unknown operation \"frob\""},
                 {{"worker", "job"}, "job: expected an operation"},
                 {{"worker", "jobs"}, "expected \"serve\" or \"job <operation>\", got \"jobs\""},
                 {{"worker", "job", "init", "--catalog-spec"}, "--catalog-spec: expected a value"},
                 {{"worker", "job", "ddl", "--memory-limit", "9Q"}, "--memory-limit: expected a size"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int argc = 0;
        while (argc < 6 && cases[i].args[argc]) argc++;
        char *argv[7] = {0};
        for (int j = 0; j < argc; j++) argv[j] = (char *)cases[i].args[j];
        fm_worker_config cfg;
        fm_err e;
        fm_err_clear(&e);
        CHECK(fm_worker_cmd(argc, argv, &cfg, &e) == -1);
        if (!strstr(e.msg, cases[i].needle)) fprintf(stderr, "  got: %s\n", e.msg);
        CHECK(strstr(e.msg, cases[i].needle) != NULL);
        fm_worker_config_free(&cfg);
    }
}

FM_TEST(worker_cmd_maps_and_absolutizes_paths) {
    char cwd[PATH_MAX], want[PATH_MAX + 64];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char *old_root = getenv("FEATHERMAN_ROOT") ? strdup(getenv("FEATHERMAN_ROOT")) : NULL;
    setenv("FEATHERMAN_ROOT", "/pod/root", 1);
    char *argv[] = {"worker", "job", "materialize", "--catalog-spec", "/etc/spec/catalog.json", "--table-spec", "t.json",
                    "--state", "st", NULL};
    fm_worker_config cfg;
    fm_err e;
    CHECK(fm_worker_cmd(ARGC(argv) - 1, argv, &cfg, &e) == 0);
    CHECK(!cfg.serve && cfg.op == FM_JOB_MATERIALIZE);
    CHECK_STR(cfg.catalog_spec, "/pod/root/etc/spec/catalog.json"); /* a container path: mapped */
    snprintf(want, sizeof want, "%s/t.json", cwd);                  /* relative: this host's */
    CHECK_STR(cfg.table_spec, want);
    snprintf(want, sizeof want, "%s/st", cwd);
    CHECK_STR(cfg.state, want);
    fm_worker_config_free(&cfg);
    if (old_root) setenv("FEATHERMAN_ROOT", old_root, 1);
    else unsetenv("FEATHERMAN_ROOT");
    free(old_root);

    char *argv2[] = {"worker", "serve", "--listen", "127.0.0.1:7000", "--slots", "3", "--read-only", "--once", NULL};
    CHECK(fm_worker_cmd(ARGC(argv2) - 1, argv2, &cfg, &e) == 0);
    CHECK(cfg.serve && cfg.port == 7000 && cfg.slots == 3 && cfg.read_only && cfg.once && cfg.state[0] == '/');
    fm_worker_config_free(&cfg);
}

FM_TEST(lake_mismatch_message_is_parsed) {
    char *given = NULL, *stored = NULL;
    const char *msg = "cannot attach catalog lake (metadata /s/lake/metadata.sqlite, data /s/lake/data/): "
                      "Invalid Input Error: DATA_PATH parameter \"/s/lake/data/\" does not match existing data path "
                      "in the catalog \"st/lake/data/\".\nYou can override the DATA_PATH by setting "
                      "OVERRIDE_DATA_PATH to True.";
    CHECK(fm_lake_parse_mismatch(msg, &given, &stored) == 0);
    CHECK_STR(given, "/s/lake/data/");
    CHECK_STR(stored, "st/lake/data/");
    free(given);
    free(stored);
    CHECK(fm_lake_parse_mismatch("IO Error: cannot open file", &given, &stored) == -1);
    CHECK(fm_lake_parse_mismatch("DATA_PATH parameter \"x\" does not match existing data path in the catalog \"y",
                                 &given, &stored) == -1);
}
