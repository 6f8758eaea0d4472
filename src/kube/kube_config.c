#include "kube/kube_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/base64.h"
#include "base/yaml.h"
#include "base/xalloc.h"

#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_CRED_FILE (1 << 20)
#define MAX_KUBECONFIG (4 << 20)

void kube_config_free(kube_config *cfg) {
    if (!cfg) return;
    free(cfg->server);
    free(cfg->ca_pem);
    free(cfg->cert_pem);
    /* keys and tokens are wiped so they do not linger in freed heap memory of a long-lived process */
    if (cfg->key_pem) memset(cfg->key_pem, 0, cfg->key_len);
    free(cfg->key_pem);
    if (cfg->token) memset(cfg->token, 0, strlen(cfg->token));
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->namespace_);
    free(cfg->origin);
    memset(cfg, 0, sizeof *cfg);
}

static char *trim_dup(const char *s, size_t n) {
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    return fm_xstrndup(s, n);
}

static char *resolve(const char *dir, const char *path) {
    fm_buf b;
    fm_buf_init(&b);
    if (path[0] == '/' || !dir || !*dir)
        fm_buf_puts(&b, path);
    else
        fm_buf_printf(&b, "%s/%s", dir, path);
    return fm_buf_steal(&b);
}

/* reads a credential file; the message names the file and the field, never the content */
static char *read_cred(const char *dir, const char *path, const char *what, size_t *len, fm_err *err) {
    char *full = resolve(dir, path);
    fm_err e;
    fm_err_clear(&e);
    char *data = fm_read_file(full, MAX_CRED_FILE, len, &e);
    if (!data) fm_fail(err, FM_E_INVALID, "%s: cannot read %s: %s", what, full, e.msg);
    free(full);
    return data;
}

/* a "<field>-data" (base64) or "<field>" (file) pair of a kubeconfig section */
static int data_or_file(json_t *sec, const char *field, const char *dir, const char *what, char **out,
                        size_t *len, fm_err *err) {
    char key[96];
    snprintf(key, sizeof key, "%s-data", field);
    json_t *d = json_object_get(sec, key);
    json_t *f = json_object_get(sec, field);
    *out = NULL;
    *len = 0;
    if (d && !json_is_null(d)) {
        if (!json_is_string(d)) return fm_fail(err, FM_E_INVALID, "%s: %s must be a string", what, key);
        *out = fm_b64decode(json_string_value(d), len);
        if (!*out) return fm_fail(err, FM_E_INVALID, "%s: %s is not valid base64", what, key);
        return 0;
    }
    if (f && !json_is_null(f)) {
        if (!json_is_string(f) || !*json_string_value(f))
            return fm_fail(err, FM_E_INVALID, "%s: %s must be a file path", what, field);
        *out = read_cred(dir, json_string_value(f), what, len, err);
        return *out ? 0 : -1;
    }
    return 0;
}

/* Finds the entry named name of a kubeconfig list (clusters/users/contexts): 1 when found, with
 * *inner its section (borrowed; NULL when absent — jansson getters accept NULL). */
static int named(json_t *doc, const char *list, const char *inner, const char *name, json_t **out) {
    json_t *arr = json_object_get(doc, list);
    size_t i;
    json_t *it;
    *out = NULL;
    json_array_foreach(arr, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && !strcmp(n, name)) {
            *out = json_object_get(it, inner);
            return 1;
        }
    }
    return 0;
}

int kube_config_parse_kubeconfig(const char *text, size_t len, const char *dir, const char *origin,
                                 const char *context, kube_config *cfg, fm_err *err) {
    memset(cfg, 0, sizeof *cfg);
    json_t *docs = fm_yaml_to_json(text, len, origin, err);
    if (!docs) return -1;
    json_t *doc = json_array_get(docs, 0);
    int rc = -1;
    if (!json_is_object(doc)) {
        fm_fail(err, FM_E_INVALID, "%s: not a kubeconfig (expected a mapping)", origin);
        goto out;
    }
    const char *ctxname = context;
    if (!ctxname || !*ctxname) ctxname = json_string_value(json_object_get(doc, "current-context"));
    if (!ctxname || !*ctxname) {
        fm_fail(err, FM_E_INVALID, "%s: no current-context and no context given", origin);
        goto out;
    }
    json_t *ctx, *cluster, *user = NULL;
    if (!named(doc, "contexts", "context", ctxname, &ctx)) {
        fm_fail(err, FM_E_INVALID, "%s: context \"%s\" not found", origin, ctxname);
        goto out;
    }
    const char *cluster_name = json_string_value(json_object_get(ctx, "cluster"));
    const char *user_name = json_string_value(json_object_get(ctx, "user"));
    const char *ns = json_string_value(json_object_get(ctx, "namespace"));
    if (!cluster_name) {
        fm_fail(err, FM_E_INVALID, "%s: context \"%s\" names no cluster", origin, ctxname);
        goto out;
    }
    if (!named(doc, "clusters", "cluster", cluster_name, &cluster)) {
        fm_fail(err, FM_E_INVALID, "%s: cluster \"%s\" (of context \"%s\") not found", origin, cluster_name, ctxname);
        goto out;
    }
    if (user_name && *user_name && !named(doc, "users", "user", user_name, &user)) {
        fm_fail(err, FM_E_INVALID, "%s: user \"%s\" (of context \"%s\") not found", origin, user_name, ctxname);
        goto out;
    }
    fm_buf what;
    fm_buf_init(&what);
    fm_buf_printf(&what, "%s context %s", origin, ctxname);
    cfg->origin = fm_buf_steal(&what);

    const char *server = json_string_value(json_object_get(cluster, "server"));
    if (!server || !*server) {
        fm_fail(err, FM_E_INVALID, "%s: cluster \"%s\" has no server", cfg->origin, cluster_name);
        goto out;
    }
    if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7)) {
        fm_fail(err, FM_E_INVALID, "%s: server \"%s\" must be an http(s) URL", cfg->origin, server);
        goto out;
    }
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/') sl--;
    cfg->server = fm_xstrndup(server, sl);
    cfg->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    if (data_or_file(cluster, "certificate-authority", dir, cfg->origin, &cfg->ca_pem, &cfg->ca_len, err)) goto out;
    if (user) {
        if (data_or_file(user, "client-certificate", dir, cfg->origin, &cfg->cert_pem, &cfg->cert_len, err)) goto out;
        if (data_or_file(user, "client-key", dir, cfg->origin, &cfg->key_pem, &cfg->key_len, err)) goto out;
        if (!cfg->cert_pem != !cfg->key_pem) {
            fm_fail(err, FM_E_INVALID, "%s: user \"%s\" has a client certificate without a key or a key without a certificate",
                    cfg->origin, user_name);
            goto out;
        }
        const char *tok = json_string_value(json_object_get(user, "token"));
        if (tok && *tok) cfg->token = fm_xstrdup(tok);
        const char *tf = json_string_value(json_object_get(user, "tokenFile"));
        if (tf && *tf) cfg->token_file = resolve(dir, tf);
        if (json_object_get(user, "exec") || json_object_get(user, "auth-provider")) {
            if (!cfg->token && !cfg->token_file && !cfg->cert_pem) {
                fm_fail(err, FM_E_INVALID, "%s: user \"%s\" uses an exec/auth-provider plugin, which is not supported",
                        cfg->origin, user_name);
                goto out;
            }
        }
        if (json_object_get(user, "username") && !cfg->token && !cfg->token_file && !cfg->cert_pem) {
            fm_fail(err, FM_E_INVALID, "%s: user \"%s\" uses basic auth, which is not supported", cfg->origin, user_name);
            goto out;
        }
    }
    cfg->namespace_ = fm_xstrdup(ns && *ns ? ns : "default");
    cfg->token_refresh_s = KUBE_TOKEN_REFRESH_S;
    if (cfg->token_file) {
        /* fail at load time on an unreadable token file rather than at the first request */
        char *t = kube_config_read_token_file(cfg, err);
        if (!t) goto out;
        memset(t, 0, strlen(t));
        free(t);
    }
    rc = 0;
out:
    json_decref(docs);
    if (rc) kube_config_free(cfg);
    return rc;
}

static char *dirname_dup(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return fm_xstrdup(".");
    if (slash == path) return fm_xstrdup("/");
    return fm_xstrndup(path, (size_t)(slash - path));
}

int kube_config_load_kubeconfig(const char *path, const char *context, kube_config *cfg, fm_err *err) {
    memset(cfg, 0, sizeof *cfg);
    char *p = NULL;
    if (path && *path) {
        p = fm_xstrdup(path);
    } else {
        const char *env = getenv("KUBECONFIG");
        if (env && *env) {
            const char *colon = strchr(env, ':');
            p = colon ? fm_xstrndup(env, (size_t)(colon - env)) : fm_xstrdup(env);
        } else {
            const char *home = getenv("HOME");
            if (!home || !*home) return fm_fail(err, FM_E_INVALID, "no kubeconfig: KUBECONFIG and HOME are unset");
            fm_buf b;
            fm_buf_init(&b);
            fm_buf_printf(&b, "%s/.kube/config", home);
            p = fm_buf_steal(&b);
        }
    }
    size_t len = 0;
    fm_err e;
    fm_err_clear(&e);
    char *text = fm_read_file(p, MAX_KUBECONFIG, &len, &e);
    if (!text) {
        fm_fail(err, e.code == FM_OK ? FM_E_INVALID : e.code, "kubeconfig %s: %s", p, e.msg);
        free(p);
        return -1;
    }
    char *dir = dirname_dup(p);
    int rc = kube_config_parse_kubeconfig(text, len, dir, p, context, cfg, err);
    free(dir);
    free(text);
    free(p);
    return rc;
}

int kube_config_in_cluster(kube_config *cfg, fm_err *err) {
    memset(cfg, 0, sizeof *cfg);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return fm_fail(err, FM_E_INVALID, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are unset");
    /* FEATHERMAN_SA_DIR names the directory outright; FEATHERMAN_ROOT (the test pod runner's
     * remapped container root) prefixes the standard path */
    const char *dir = getenv("FEATHERMAN_SA_DIR");
    char *rooted = NULL;
    if (!dir || !*dir) {
        const char *root = getenv("FEATHERMAN_ROOT");
        if (root && *root) {
            fm_buf rb;
            fm_buf_init(&rb);
            fm_buf_printf(&rb, "%s%s", root, SA_DIR_DEFAULT);
            rooted = fm_buf_steal(&rb);
            dir = rooted;
        } else {
            dir = SA_DIR_DEFAULT;
        }
    }
    fm_buf b;
    fm_buf_init(&b);
    /* an IPv6 service address needs brackets in a URL */
    if (strchr(host, ':'))
        fm_buf_printf(&b, "https://[%s]:%s", host, port);
    else
        fm_buf_printf(&b, "https://%s:%s", host, port);
    cfg->server = fm_buf_steal(&b);
    cfg->origin = fm_xstrdup("in-cluster");
    cfg->token_refresh_s = KUBE_TOKEN_REFRESH_S;
    cfg->token_file = resolve(dir, "token");
    char *t = kube_config_read_token_file(cfg, err);
    if (!t) goto fail;
    memset(t, 0, strlen(t));
    free(t);
    cfg->ca_pem = read_cred(dir, "ca.crt", "in-cluster", &cfg->ca_len, err);
    if (!cfg->ca_pem) goto fail;
    if (cfg->ca_len == 0) {
        /* curl would only say "problem with the SSL CA cert" */
        fm_fail(err, FM_E_INVALID, "in-cluster: %s/ca.crt is empty", dir);
        goto fail;
    }
    char *nsfile = resolve(dir, "namespace");
    size_t nl = 0;
    fm_err e;
    char *ns = fm_read_file(nsfile, 4096, &nl, &e);
    free(nsfile);
    if (ns) {
        cfg->namespace_ = trim_dup(ns, nl);
        free(ns);
    }
    if (!cfg->namespace_ || !*cfg->namespace_) {
        free(cfg->namespace_);
        cfg->namespace_ = fm_xstrdup("default");
    }
    free(rooted);
    return 0;
fail:
    free(rooted);
    kube_config_free(cfg);
    return -1;
}

int kube_config_load(kube_config *cfg, fm_err *err) {
    const char *kc = getenv("KUBECONFIG");
    if (kc && *kc) return kube_config_load_kubeconfig(NULL, NULL, cfg, err);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (host && *host) return kube_config_in_cluster(cfg, err);
    return kube_config_load_kubeconfig(NULL, NULL, cfg, err);
}

char *kube_config_read_token_file(const kube_config *cfg, fm_err *err) {
    if (!cfg->token_file) {
        fm_fail(err, FM_E_INVALID, "%s: no token file", cfg->origin ? cfg->origin : "kube config");
        return NULL;
    }
    size_t len = 0;
    fm_err e;
    fm_err_clear(&e);
    char *data = fm_read_file(cfg->token_file, MAX_CRED_FILE, &len, &e);
    if (!data) {
        fm_fail(err, FM_E_UNAVAILABLE, "%s: cannot read token file %s: %s", cfg->origin ? cfg->origin : "kube config",
                cfg->token_file, e.msg);
        return NULL;
    }
    char *t = trim_dup(data, len);
    memset(data, 0, len);
    free(data);
    if (!*t) {
        free(t);
        fm_fail(err, FM_E_UNAVAILABLE, "%s: token file %s is empty", cfg->origin ? cfg->origin : "kube config",
                cfg->token_file);
        return NULL;
    }
    return t;
}
