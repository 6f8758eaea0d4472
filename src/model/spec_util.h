/* Shared by the three spec parsers: typed field access that knows the field's path, refuses
 * unknown fields (a structural schema without preserve-unknown-fields), applies defaults, and
 * the value checks the CRD schemas express as patterns and bounds (DNS-1123 names, bucket
 * names, cron, quantities, durations). Every failure message starts with the field path.
 * Values are echoed only where they cannot be secret (names, enums, types, not endpoints). */
#ifndef FM_SPEC_UTIL_H
#define FM_SPEC_UTIL_H
#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "model/spec.h"

/* path of a child: "<parent>.<key>" or "<parent>[i]" into out (size n) */
void fm_sp_path(char *out, size_t n, const char *parent, const char *key);
void fm_sp_index(char *out, size_t n, const char *parent, size_t i);

/* refuses keys of obj that are not in allowed (NULL-terminated) */
int fm_sp_known(json_t *obj, const char *path, const char *const *allowed, fm_err *err);
/* child object; *out = NULL when absent (or JSON null); required refuses absence */
int fm_sp_obj(json_t *parent, const char *ppath, const char *key, bool required, json_t **out, fm_err *err);
/* string field: malloc'd copy or strdup(def) (def may be NULL); refuses non-strings, invalid
 * UTF-8, control characters and more than maxlen bytes */
int fm_sp_str(json_t *parent, const char *ppath, const char *key, bool required, const char *def, size_t maxlen,
              char **out, fm_err *err);
/* one of values (NULL-terminated); lower is compared case-sensitively */
int fm_sp_enum(json_t *parent, const char *ppath, const char *key, const char *def, const char *const *values,
               char **out, fm_err *err);
int fm_sp_int(json_t *parent, const char *ppath, const char *key, long def, long min, long max, long *out,
              fm_err *err);
int fm_sp_num(json_t *parent, const char *ppath, const char *key, double def, double *out, fm_err *err);
int fm_sp_bool(json_t *parent, const char *ppath, const char *key, bool def, bool *out, fm_err *err);
/* a duration string ("30s", "1h30m") or def; must be ≥ min_ms */
int fm_sp_duration(json_t *parent, const char *ppath, const char *key, long def_ms, long min_ms, long *out,
                   fm_err *err);

/* apiVersion, kind, top-level keys and metadata {name, namespace, annotations} */
int fm_sp_header(json_t *doc, const char *kind, char **name, char **ns, bool *paused, json_t **spec, fm_err *err);

bool fm_sp_dns1123_subdomain(const char *s);
bool fm_sp_dns1123_label(const char *s);
bool fm_sp_bucket_name(const char *s);
/* 5-field cron; on failure why gets a short reason */
bool fm_sp_cron(const char *s, char *why, size_t n);
/* a Kubernetes quantity in bytes, -1 when malformed */
double fm_sp_quantity(const char *s);
/* an object-store prefix: no leading '/', no "..", normalised to end in '/' when non-empty;
 * returns a malloc'd copy or NULL with err set */
char *fm_sp_prefix(const char *s, const char *path, fm_err *err);
/* secret reference {name, <key_a field>, [<key_b field>]} */
int fm_sp_secret_ref(json_t *parent, const char *ppath, const char *key, bool required, const char *fa,
                     const char *da, const char *fb, const char *db, fm_secret_ref *ref, fm_err *err);
#endif
