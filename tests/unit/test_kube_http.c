#include <stdlib.h>
#include <string.h>

#include "kube/kube_http.h"
#include "unit.h"

static const kube_resource CAT = {"ducklake.featherman.dev", "v1alpha1", "ducklakecatalogs", "DuckLakeCatalog", 1};

FM_TEST(kube_path_building) {
    char *p = kube_path(&KUBE_RES_PODS, "ns1", "p1", NULL);
    CHECK_STR(p, "/api/v1/namespaces/ns1/pods/p1");
    free(p);
    p = kube_path(&KUBE_RES_PODS, NULL, NULL, NULL);
    CHECK_STR(p, "/api/v1/pods");
    free(p);
    p = kube_path(&CAT, "team", "lake", "status");
    CHECK_STR(p, "/apis/ducklake.featherman.dev/v1alpha1/namespaces/team/ducklakecatalogs/lake/status");
    free(p);
    p = kube_path(&KUBE_RES_NAMESPACES, "ignored", "kube-system", NULL);
    CHECK_STR(p, "/api/v1/namespaces/kube-system");
    free(p);
    p = kube_path(&KUBE_RES_LEASES, "ns", NULL, "status"); /* no name: no subresource */
    CHECK_STR(p, "/apis/coordination.k8s.io/v1/namespaces/ns/leases");
    free(p);
    /* names cannot escape their segment */
    p = kube_path(&KUBE_RES_CONFIGMAPS, "a/../b", "x?y#z %/..", NULL);
    CHECK_STR(p, "/api/v1/namespaces/a%2F..%2Fb/configmaps/x%3Fy%23z%20%25%2F..");
    free(p);
}

FM_TEST(kube_escape_query) {
    fm_buf b;
    fm_buf_init(&b);
    kube_escape(&b, "app=x,tier in (a,b),!gone");
    CHECK_STR(b.data, "app%3Dx%2Ctier%20in%20%28a%2Cb%29%2C%21gone");
    fm_buf_reset(&b);
    kube_escape(&b, "\xc3\xa9~._-");
    CHECK_STR(b.data, "%C3%A9~._-");
    fm_buf_free(&b);
}

static fm_errcode map(long http, const char *body, kube_status *st, fm_err *e) {
    kube_status_to_err(http, body, body ? strlen(body) : 0, "get pods x", st, e);
    return e->code;
}

FM_TEST(kube_status_mapping) {
    fm_err e;
    kube_status st;
    const char *conflict = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"Operation "
                           "cannot be fulfilled on configmaps \\\"x\\\": the object has been modified\",\"reason\":"
                           "\"Conflict\",\"code\":409}";
    CHECK(map(409, conflict, &st, &e) == FM_E_BUSY);
    CHECK(st.http == 409);
    CHECK_STR(st.reason, "Conflict");
    CHECK(strstr(e.msg, "the object has been modified") && strstr(e.msg, "get pods x"));
    CHECK(map(409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"exists\",\"code\":409}", &st, &e) ==
          FM_E_BUSY);
    CHECK_STR(st.reason, "AlreadyExists");
    CHECK(map(422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":\"spec.x: Invalid value\",\"code\":422}",
              &st, &e) == FM_E_INVALID);
    CHECK(strstr(e.msg, "spec.x: Invalid value") != NULL);
    CHECK(map(403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"no\",\"code\":403}", &st, &e) ==
          FM_E_REFUSED);
    CHECK(map(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"pods \\\"x\\\" not found\",\"code\":404}",
              &st, &e) == FM_E_NOT_FOUND);
    CHECK(map(410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\",\"code\":410}",
              &st, &e) == FM_E_UNAVAILABLE);
    CHECK(st.http == 410);
    CHECK(map(401, "", &st, &e) == FM_E_REFUSED && strstr(e.msg, "unauthorized"));
    CHECK(map(400, "not json", &st, &e) == FM_E_INVALID && strstr(e.msg, "HTTP 400"));
    CHECK(map(429, NULL, &st, &e) == FM_E_UNAVAILABLE);
    CHECK(map(503, "<html>bad gateway</html>", &st, &e) == FM_E_UNAVAILABLE);
    CHECK(map(504, NULL, &st, &e) == FM_E_TIMEOUT);
    /* a Status in a 200 watch ERROR event carries the real code */
    CHECK(map(0, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"gone\",\"code\":410}", &st, &e) ==
          FM_E_UNAVAILABLE);
    CHECK(st.http == 410);
}

FM_TEST(kube_client_unreachable) {
    /* a transport failure is an error of its own, fast (nothing listens on port 1) */
    kube_config c;
    memset(&c, 0, sizeof c);
    c.server = strdup("http://127.0.0.1:1");
    fm_err e;
    kube_client *cl = kube_client_new(&c, &e);
    CHECK(cl != NULL && c.server == NULL);
    json_t *o = NULL;
    kube_status st;
    CHECK(kube_get_ex(cl, &KUBE_RES_PODS, "ns", "p", &o, &st, &e) == -1);
    CHECK(e.code == FM_E_UNAVAILABLE && o == NULL && st.http == 0);
    CHECK(kube_patch(cl, &KUBE_RES_PODS, "ns", "p", NULL, KUBE_PATCH_APPLY, NULL, NULL, 0, NULL, &e) == -1);
    CHECK(e.code == FM_E_INVALID && strstr(e.msg, "field manager"));
    kube_client_free(cl);
}
