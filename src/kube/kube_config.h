/* kube_config: where the API server is and how to authenticate to it, from a kubeconfig file
 * or from the in-cluster service account. The result is self-contained: certificates, keys and
 * CA bundles are held in memory as PEM (file paths in a kubeconfig are read at load time,
 * relative to the kubeconfig's directory, as kubectl does), so a client never touches the file
 * system again — except for a token *file*, which the client re-reads periodically because
 * projected service-account tokens rotate (see kube_client_token).
 *
 * Contract: no function here logs or formats a credential (token, key, certificate) into an
 * error message; errors name the file, context or field instead. */
#ifndef FM_KUBE_CONFIG_H
#define FM_KUBE_CONFIG_H
#include <stddef.h>

#include "base/err.h"

/* default period after which a token file is read again (client-go uses one minute too) */
#define KUBE_TOKEN_REFRESH_S 60

typedef struct {
    char *server;      /* "https://host:port", no trailing slash */
    char *ca_pem;      /* CA bundle to verify the server, or NULL for the system store */
    size_t ca_len;
    char *cert_pem;    /* client certificate, or NULL */
    size_t cert_len;
    char *key_pem;     /* client key, or NULL */
    size_t key_len;
    char *token;       /* static bearer token, or NULL */
    char *token_file;  /* bearer token file, re-read every token_refresh_s; wins over token */
    int token_refresh_s;
    int insecure;      /* insecure-skip-tls-verify */
    char *namespace_;  /* the context's / service account's namespace, "default" if none */
    char *origin;      /* where this came from, for messages: "in-cluster" or "<path> context <name>" */
} kube_config;

/* Chooses like client tools do: $KUBECONFIG when set (first file of a ':' list), else
 * in-cluster when $KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. */
int kube_config_load(kube_config *cfg, fm_err *err);

/* A kubeconfig file (path NULL: $KUBECONFIG or ~/.kube/config), context NULL: current-context. */
int kube_config_load_kubeconfig(const char *path, const char *context, kube_config *cfg, fm_err *err);

/* The same from text (YAML or JSON); relative file paths resolve against dir. For tests. */
int kube_config_parse_kubeconfig(const char *text, size_t len, const char *dir, const char *origin,
                                 const char *context, kube_config *cfg, fm_err *err);

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT and the service
 * account's token, ca.crt and namespace under /var/run/secrets/kubernetes.io/serviceaccount,
 * or under $FEATHERMAN_SA_DIR, or under $FEATHERMAN_ROOT + that path (tests run "pods" as local
 * processes whose container paths are remapped under FEATHERMAN_ROOT). */
int kube_config_in_cluster(kube_config *cfg, fm_err *err);

/* The token file's current content (trimmed), malloc'd; the client caches it for
 * token_refresh_s (kube_client_token). */
char *kube_config_read_token_file(const kube_config *cfg, fm_err *err);

void kube_config_free(kube_config *cfg);

#endif
