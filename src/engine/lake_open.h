/* Opening a catalog's engine when the data path DuckLake stored at creation does not match the one
 * this start computes from its --state (DuckLake refuses such an ATTACH: "DATA_PATH parameter …
 * does not match existing data path in the catalog …").
 *
 * fm_lake_open is fm_engine_open, plus:
 *   - a repair, when the stored path can only have meant the data directory this start uses, and
 *     the start is not read-only:
 *       the stored path is relative and ends in "<catalog>/data/", and the metadata file is in its
 *       default place, <state>/<catalog>/metadata.* (no spec.metadata.path): written by a
 *       featherman that did not yet make --state absolute, in the same run that created the data
 *       directory beside that metadata file, which is the one this start uses; DuckLake reads a
 *       relative path against the current directory, so such a lake only opened from the
 *       directory it was created in; or
 *       the stored path is absolute and names the same directory (device and inode) under
 *       another spelling, e.g. through a symlink;
 *     then the stored value, and nothing else, is rewritten in the metadata file (SQLite or DuckDB)
 *     to the absolute path, a warning says so, and the catalog is opened again. The paths of the
 *     lake's files are relative to the data path, so they stay valid.
 *   - otherwise a message that says what was stored, what this start wanted and what to do
 *     (FM_E_INVALID), in place of DuckLake's, whose advice (OVERRIDE_DATA_PATH) is no featherman
 *     option. Any other failure is fm_engine_open's. */
#ifndef FM_LAKE_OPEN_H
#define FM_LAKE_OPEN_H
#include "base/err.h"
#include "engine/engine.h"

int fm_lake_open(fm_engine **out, const fm_engine_config *cfg, fm_err *err);

/* the two paths of DuckLake's mismatch message (the DATA_PATH given, the one stored), malloc'd;
 * -1 when msg is another error */
int fm_lake_parse_mismatch(const char *msg, char **given, char **stored);
#endif
