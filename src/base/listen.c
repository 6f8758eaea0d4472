/* The --listen option (contract in listen.h). */
#include "base/listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fm_parse_listen(const char *s, char *addr, size_t n, int *port) {
    const char *colon = strrchr(s, ':');
    if (!colon) return -1;
    size_t len = (size_t)(colon - s);
    if (len == 0 || len >= n) return -1;
    memcpy(addr, s, len);
    addr[len] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

int fm_listen_or_pod_ip(const char *listen, int default_port, char *addr, size_t n, int *port) {
    if (listen) return fm_parse_listen(listen, addr, n, port);
    const char *podip = getenv("POD_IP");
    snprintf(addr, n, "%s", podip && *podip && strlen(podip) < n ? podip : "127.0.0.1");
    *port = default_port;
    return 0;
}
