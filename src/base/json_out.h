/* Writing JSON by hand on hot paths (NDJSON rows, error bodies, log lines) without building a
 * jansson tree: fm_json_string appends a quoted, escaped JSON string. Invalid UTF-8 bytes are
 * replaced by U+FFFD so the output is always valid JSON. */
#ifndef FM_JSON_OUT_H
#define FM_JSON_OUT_H
#include <stddef.h>

#include "base/buf.h"
void fm_json_string(fm_buf *b, const char *s, size_t n);
#endif
