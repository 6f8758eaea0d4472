/* The --listen option every serving role takes: "ADDR:PORT". In a Pod a server binds its own
 * address ($POD_IP: the test cluster gives each Pod a loopback address of its own), elsewhere
 * 127.0.0.1 — never all interfaces unless asked. */
#ifndef FM_LISTEN_H
#define FM_LISTEN_H
#include <stddef.h>

/* "ADDR:PORT" → addr (size n) and port 0..65535; -1 when malformed */
int fm_parse_listen(const char *s, char *addr, size_t n, int *port);
/* listen when given (parsed as above), else $POD_IP or 127.0.0.1 with default_port; -1 when malformed */
int fm_listen_or_pod_ip(const char *listen, int default_port, char *addr, size_t n, int *port);
#endif
