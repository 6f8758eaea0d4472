/* Opening a catalog's engine when the data path DuckLake stored at creation does not match the one
 * this start computes from its --state (DuckLake refuses such an ATTACH: "DATA_PATH parameter …
 * does not match existing data path in the catalog …").
 *
 * fm_lake_open is fm_engine_open, plus:
 *   - repair, when there is only one thing the stored path can have meant: the catalog keeps its
 *     metadata file in its default place (<state>/<catalog>/metadata.*, no spec.metadata.path) on
 *     local disk, so the data directory created beside it, <state>/<catalog>/data/, is the one the
 *     stored path named, and either
 *       the stored path is relative and ends in "<catalog>/data/" (written by a featherman that
 *       did not yet make --state absolute: DuckLake reads it against the current directory, so
 *       the lake only opened from the directory it was created in), or
 *       the stored path is absolute and is the same directory under another spelling (a symlink);
 *     and the start is not read-only; then the stored value is rewritten in the metadata store to the absolute path, a warning
 *     says so, and the catalog is opened again. File paths inside the lake are relative to the
 *     data path, so they stay valid.
 *   - otherwise a message that says what was stored, what this start wanted and what to do
 *     (FM_E_INVALID), in place of DuckLake's, whose advice (OVERRIDE_DATA_PATH) is no featherman
 *     option. */
#ifndef FM_LAKE_OPEN_H
#define FM_LAKE_OPEN_H
#include "base/err.h"
#include "engine/engine.h"

int fm_lake_open(fm_engine **out, const fm_engine_config *cfg, fm_err *err);

/* the two paths of DuckLake's mismatch message (the DATA_PATH given, the one stored), malloc'd;
 * -1 when msg is another error */
int fm_lake_parse_mismatch(const char *msg, char **given, char **stored);
#endif
