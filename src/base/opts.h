/* Checked parsers for command-line option values, shared by every role's option parsing so that a
 * malformed flag is refused with a message naming it instead of read as 0 (atoi) or truncated.
 * Each returns 0 and writes *out, or -1 with err (FM_E_INVALID) set to
 *   "--FLAG: <what was expected>, got \"VALUE\""
 * and leaves *out untouched. `flag` is the option's name without dashes.
 *   fm_opt_int       a decimal integer in [min, max]; no sign games, no trailing text
 *   fm_opt_duration  milliseconds from "250ms", "30s", "5m", "1h", or a bare integer meaning
 *                    milliseconds; in [min_ms, max_ms]
 *   fm_opt_size      bytes from "1048576", "512KiB"/"512K", "64MiB"/"64M", "2GiB"/"2G" (powers of
 *                    1024; also "KB", "MB", "GB" as DuckDB reads them, powers of 1000); in [min, max]
 *   fm_opt_path_abs  a path made absolute against the current directory (not resolved through
 *                    symlinks, the file need not exist): a stored path then means the same from any
 *                    working directory. Malloc'd; an empty value is refused. */
#ifndef FM_OPTS_H
#define FM_OPTS_H
#include <stddef.h>

#include "base/err.h"

int fm_opt_int(const char *flag, const char *value, long min, long max, long *out, fm_err *err);
int fm_opt_duration(const char *flag, const char *value, long min_ms, long max_ms, long *out, fm_err *err);
int fm_opt_size(const char *flag, const char *value, unsigned long long min, unsigned long long max,
                unsigned long long *out, fm_err *err);
int fm_opt_path_abs(const char *flag, const char *value, char **out, fm_err *err);
#endif
