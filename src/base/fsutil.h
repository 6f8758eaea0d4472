/* Small file-system helpers: create directories like `mkdir -p`, read a whole file. */
#ifndef FM_FSUTIL_H
#define FM_FSUTIL_H
#include <stddef.h>

#include "base/err.h"
int fm_mkdirs(const char *path, fm_err *err);          /* mkdir -p path */
int fm_mkdirs_for_file(const char *file, fm_err *err); /* mkdir -p dirname(file) */
/* malloc'd directory part of path ("." when none) */
char *fm_dirname(const char *path);
/* Where a container path is on this host: $FEATHERMAN_ROOT + path when FEATHERMAN_ROOT is set and
 * path is absolute (the test cluster's pod runner remaps volume mount paths under the Pod's root
 * instead of mounting them), else a copy of path. Applied once, to paths featherman reads from its
 * own configuration (arguments, env, spec); paths derived from those are not prefixed again.
 * malloc'd; NULL in, NULL out. */
char *fm_host_path(const char *path);
/* whole file as a NUL-terminated malloc'd buffer; at most max bytes (else FM_E_INVALID) */
char *fm_read_file(const char *path, size_t max, size_t *len, fm_err *err);
#endif
