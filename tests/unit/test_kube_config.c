#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "kube/kube_config.h"
#include "kube/kube_http.h"
#include "unit.h"

static void write_file(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static void rm_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
}

/* "CA PEM\n" = Q0EgUEVNCg==, "CERT\n" = Q0VSVAo=, "KEY\n" = S0VZCg== */
static const char *KC =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: dev\n"
    "clusters:\n"
    "- name: c1\n"
    "  cluster:\n"
    "    server: https://10.0.0.1:6443/\n"
    "    certificate-authority-data: Q0EgUEVNCg==\n"
    "- name: c2\n"
    "  cluster:\n"
    "    server: https://c2.example:443\n"
    "    certificate-authority: certs/ca.pem\n"
    "    insecure-skip-tls-verify: true\n"
    "users:\n"
    "- name: u1\n"
    "  user:\n"
    "    client-certificate-data: Q0VSVAo=\n"
    "    client-key-data: S0VZCg==\n"
    "- name: u2\n"
    "  user:\n"
    "    client-certificate: /ABS/cert.pem\n"
    "    client-key: key.pem\n"
    "    token: static-token-123\n"
    "- name: u3\n"
    "  user:\n"
    "    tokenFile: tok\n"
    "- name: u4\n"
    "  user:\n"
    "    exec: {command: aws}\n"
    "contexts:\n"
    "- name: dev\n"
    "  context: {cluster: c1, user: u1, namespace: team-a}\n"
    "- name: prod\n"
    "  context: {cluster: c2, user: u2}\n"
    "- name: tf\n"
    "  context: {cluster: c1, user: u3}\n"
    "- name: plugin\n"
    "  context: {cluster: c1, user: u4}\n"
    "- name: nouser\n"
    "  context: {cluster: nope, user: u1}\n";

FM_TEST(kube_config_current_context_data_fields) {
    kube_config c;
    fm_err e;
    CHECK(kube_config_parse_kubeconfig(KC, strlen(KC), "/nonexistent", "kc", NULL, &c, &e) == 0);
    CHECK_STR(c.server, "https://10.0.0.1:6443");
    CHECK(c.ca_len == 7 && !memcmp(c.ca_pem, "CA PEM\n", 7));
    CHECK(c.cert_len == 5 && !memcmp(c.cert_pem, "CERT\n", 5));
    CHECK(c.key_len == 4 && !memcmp(c.key_pem, "KEY\n", 4));
    CHECK(c.token == NULL && c.token_file == NULL && !c.insecure);
    CHECK_STR(c.namespace_, "team-a");
    CHECK(strstr(c.origin, "dev") != NULL);
    kube_config_free(&c);
}

FM_TEST(kube_config_files_relative_to_kubeconfig_dir) {
    char dir[] = "/tmp/fm-kc-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/certs", dir);
    mkdir(sub, 0700);
    write_file(dir, "certs/ca.pem", "CAFILE");
    write_file(dir, "key.pem", "KEYFILE");
    write_file(dir, "cert.pem", "CERTFILE");
    write_file(dir, "tok", "  file-token-1\n");
    /* the absolute client-certificate path stays absolute */
    char *kc = strdup(KC);
    char *abs = strstr(kc, "/ABS/cert.pem");
    char *text = malloc(strlen(KC) + 600);
    snprintf(text, strlen(KC) + 600, "%.*s%s/cert.pem%s", (int)(abs - kc), kc, dir, abs + strlen("/ABS/cert.pem"));
    kube_config c;
    fm_err e;
    CHECK(kube_config_parse_kubeconfig(text, strlen(text), dir, "kc", "prod", &c, &e) == 0);
    CHECK_STR(c.server, "https://c2.example:443");
    CHECK(c.ca_len == 6 && !memcmp(c.ca_pem, "CAFILE", 6));
    CHECK(c.key_len == 7 && !memcmp(c.key_pem, "KEYFILE", 7));
    CHECK(c.cert_len == 8 && !memcmp(c.cert_pem, "CERTFILE", 8));
    CHECK_STR(c.token, "static-token-123");
    CHECK(c.insecure == 1);
    CHECK_STR(c.namespace_, "default");
    kube_config_free(&c);

    /* tokenFile: resolved, read (trimmed) through the client, re-read after the refresh period */
    CHECK(kube_config_parse_kubeconfig(text, strlen(text), dir, "kc", "tf", &c, &e) == 0);
    CHECK(c.token_file && strstr(c.token_file, dir) == c.token_file);
    c.token_refresh_s = 1;
    kube_client *cl = kube_client_new(&c, &e);
    CHECK(cl != NULL);
    char *t = kube_client_token(cl, &e);
    CHECK_STR(t, "file-token-1");
    free(t);
    write_file(dir, "tok", "file-token-2\n");
    t = kube_client_token(cl, &e); /* cached until the period passes */
    CHECK_STR(t, "file-token-1");
    free(t);
    usleep(1100 * 1000);
    t = kube_client_token(cl, &e);
    CHECK_STR(t, "file-token-2");
    free(t);
    /* a vanished file keeps the last good token */
    char tp[600];
    snprintf(tp, sizeof tp, "%s/tok", dir);
    unlink(tp);
    usleep(1100 * 1000);
    t = kube_client_token(cl, &e);
    CHECK_STR(t, "file-token-2");
    free(t);
    kube_client_free(cl);

    /* a missing referenced file names the file, and a missing token file fails at load */
    CHECK(kube_config_parse_kubeconfig(text, strlen(text), dir, "kc", "tf", &c, &e) == -1);
    CHECK(strstr(e.msg, "tok") != NULL);
    snprintf(tp, sizeof tp, "%s/key.pem", dir);
    unlink(tp);
    CHECK(kube_config_parse_kubeconfig(text, strlen(text), dir, "kc", "prod", &c, &e) == -1);
    CHECK(strstr(e.msg, "key.pem") != NULL && e.code == FM_E_INVALID);
    free(text);
    free(kc);
    rm_tree(dir);
}

FM_TEST(kube_config_errors) {
    kube_config c;
    fm_err e;
    CHECK(kube_config_parse_kubeconfig(KC, strlen(KC), "/x", "kc", "missing", &c, &e) == -1);
    CHECK(strstr(e.msg, "context \"missing\" not found") != NULL);
    CHECK(kube_config_parse_kubeconfig(KC, strlen(KC), "/x", "kc", "nouser", &c, &e) == -1);
    CHECK(strstr(e.msg, "cluster \"nope\"") != NULL);
    CHECK(kube_config_parse_kubeconfig(KC, strlen(KC), "/x", "kc", "plugin", &c, &e) == -1);
    CHECK(strstr(e.msg, "exec") != NULL);
    const char *nocur = "apiVersion: v1\nclusters: []\n";
    CHECK(kube_config_parse_kubeconfig(nocur, strlen(nocur), "/x", "kc", NULL, &c, &e) == -1);
    CHECK(strstr(e.msg, "current-context") != NULL);
    const char *badb64 = "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
                         "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '@@@'}}]\n";
    CHECK(kube_config_parse_kubeconfig(badb64, strlen(badb64), "/x", "kc", NULL, &c, &e) == -1);
    CHECK(strstr(e.msg, "base64") != NULL);
    const char *badsrv = "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
                         "clusters: [{name: c, cluster: {server: 'ftp://h'}}]\n";
    CHECK(kube_config_parse_kubeconfig(badsrv, strlen(badsrv), "/x", "kc", NULL, &c, &e) == -1);
    /* JSON is YAML too */
    const char *js = "{\"current-context\":\"a\",\"contexts\":[{\"name\":\"a\",\"context\":{\"cluster\":\"c\"}}],"
                     "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"http://127.0.0.1:8080\"}}]}";
    CHECK(kube_config_parse_kubeconfig(js, strlen(js), "/x", "kc", NULL, &c, &e) == 0);
    CHECK_STR(c.server, "http://127.0.0.1:8080");
    CHECK(c.ca_pem == NULL && c.cert_pem == NULL && c.token == NULL);
    kube_config_free(&c);
}

FM_TEST(kube_config_secrets_not_in_messages) {
    /* a token that breaks nothing still must never appear in an error message */
    const char *kc = "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
                     "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                     "users: [{name: u, user: {token: SECRET-TOKEN-XYZ, client-key-data: S0VZCg==}}]\n";
    kube_config c;
    fm_err e;
    CHECK(kube_config_parse_kubeconfig(kc, strlen(kc), "/x", "kc", NULL, &c, &e) == -1);
    CHECK(strstr(e.msg, "SECRET") == NULL && strstr(e.msg, "KEY") == NULL);
    CHECK(strstr(e.msg, "without") != NULL);
}

FM_TEST(kube_config_in_cluster) {
    char dir[] = "/tmp/fm-sa-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, "token", "sa-token\n");
    write_file(dir, "ca.crt", "SA CA");
    write_file(dir, "namespace", "featherman-system\n");
    setenv("FEATHERMAN_SA_DIR", dir, 1);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    kube_config c;
    fm_err e;
    CHECK(kube_config_in_cluster(&c, &e) == 0);
    CHECK_STR(c.server, "https://[fd00::1]:6443");
    CHECK_STR(c.namespace_, "featherman-system");
    CHECK(c.ca_len == 5 && !memcmp(c.ca_pem, "SA CA", 5));
    CHECK(c.token_file && strstr(c.token_file, "/token"));
    kube_config_free(&c);
    write_file(dir, "ca.crt", "");
    CHECK(kube_config_in_cluster(&c, &e) == -1 && strstr(e.msg, "ca.crt is empty"));
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    char p[600];
    snprintf(p, sizeof p, "%s/token", dir);
    unlink(p);
    CHECK(kube_config_in_cluster(&c, &e) == -1 && strstr(e.msg, "token") != NULL);
    /* FEATHERMAN_ROOT remaps the standard directory */
    unsetenv("FEATHERMAN_SA_DIR");
    setenv("FEATHERMAN_ROOT", "/nonexistent-root", 1);
    CHECK(kube_config_in_cluster(&c, &e) == -1);
    CHECK(strstr(e.msg, "/nonexistent-root/var/run/secrets/kubernetes.io/serviceaccount/token") != NULL);
    unsetenv("FEATHERMAN_ROOT");
    unsetenv("KUBERNETES_SERVICE_HOST");
    CHECK(kube_config_in_cluster(&c, &e) == -1 && strstr(e.msg, "KUBERNETES_SERVICE_HOST"));
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("FEATHERMAN_SA_DIR");
    rm_tree(dir);
}

FM_TEST(kube_b64) {
    size_t n;
    char *s = fm_b64decode("aGVsbG8=", &n);
    CHECK_STR(s, "hello");
    CHECK(n == 5);
    free(s);
    s = fm_b64decode("aGVs\nbG8", &n);
    CHECK_STR(s, "hello");
    free(s);
    s = fm_b64decode("", &n);
    CHECK(s && n == 0);
    free(s);
    CHECK(fm_b64decode("a=b", &n) == NULL);
    CHECK(fm_b64decode("a", &n) == NULL);
}
