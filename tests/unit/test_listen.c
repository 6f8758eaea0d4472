/* --listen parsing shared by local, worker serve, the gateway and the operator. */
#include <stdlib.h>

#include "base/listen.h"
#include "unit.h"

FM_TEST(listen_parsing) {
    char a[64];
    int p = -1;
    CHECK(fm_parse_listen("127.0.0.5:8080", a, sizeof a, &p) == 0 && p == 8080);
    CHECK_STR(a, "127.0.0.5");
    CHECK(fm_parse_listen("0.0.0.0:0", a, sizeof a, &p) == 0 && p == 0);
    CHECK(fm_parse_listen("8080", a, sizeof a, &p) == -1);
    CHECK(fm_parse_listen(":8080", a, sizeof a, &p) == -1);
    CHECK(fm_parse_listen("127.0.0.1:", a, sizeof a, &p) == -1);
    CHECK(fm_parse_listen("127.0.0.1:70000", a, sizeof a, &p) == -1);
    CHECK(fm_parse_listen("127.0.0.1:80x", a, sizeof a, &p) == -1);
    setenv("POD_IP", "127.9.0.7", 1);
    CHECK(fm_listen_or_pod_ip(NULL, 8081, a, sizeof a, &p) == 0 && p == 8081);
    CHECK_STR(a, "127.9.0.7");
    unsetenv("POD_IP");
    CHECK(fm_listen_or_pod_ip(NULL, 8081, a, sizeof a, &p) == 0);
    CHECK_STR(a, "127.0.0.1");
    CHECK(fm_listen_or_pod_ip("10.0.0.1:9", 8081, a, sizeof a, &p) == 0 && p == 9);
}
