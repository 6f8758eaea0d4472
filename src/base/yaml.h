/* YAML text → a JSON array of its documents (jansson), typed by the YAML 1.2 core schema
 * (unquoted true/false, null, integers and floats become JSON scalars; quoted scalars stay
 * strings). Aliases and duplicate keys are refused; a syntax error is FM_E_INVALID naming origin
 * and line. An empty document is JSON null. */
#ifndef FM_YAML_H
#define FM_YAML_H
#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

json_t *fm_yaml_to_json(const char *text, size_t len, const char *origin, fm_err *err);
/* the same, also appending each document's first line (an int per document) to lines if not NULL */
json_t *fm_yaml_parse_docs(const char *text, size_t len, const char *origin, fm_err *err, fm_buf *lines);
#endif
