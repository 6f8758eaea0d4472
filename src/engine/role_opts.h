/* Option handling shared by the DuckDB roles (`featherman local`, `featherman worker`): the bounds
 * of their numeric options in one place, getopt's failures turned into messages that name the
 * flag, and path options made absolute when they are read, so that a path DuckLake stores (the
 * catalog's data path, derived from --state) means the same from any working directory.
 * Every function returns 0, or -1 with err (FM_E_INVALID) naming the flag; nothing is printed. */
#ifndef FM_ROLE_OPTS_H
#define FM_ROLE_OPTS_H
#include <getopt.h>
#include <stdbool.h>

#include "base/err.h"

#define FM_ROLE_MAX_SLOTS 1024
#define FM_ROLE_MAX_THREADS 4096
/* DuckDB cannot run a query below a few MiB; above a PiB is a typo */
#define FM_ROLE_MIN_MEMORY (16ULL << 20)
#define FM_ROLE_MAX_MEMORY (1ULL << 50)

/* getopt_long (with ':' leading the option string) returned '?' or ':': the unknown option or
 * the option missing its value, named */
int fm_role_opt_getopt_error(int c, char **argv, const struct option *opts, fm_err *err);
/* an argument left after the options; the roles take none */
int fm_role_opt_extra(int argc, char **argv, fm_err *err);
/* a path option: with container_path, mapped to this host first (fm_host_path); then made
 * absolute against the current directory and cleaned ("a/./b/../c" → "a/c", no trailing '/').
 * *out is replaced (the previous value freed); malloc'd. */
int fm_role_opt_path(const char *flag, const char *value, bool container_path, char **out, fm_err *err);
/* the lexical clean-up of an absolute path that fm_role_opt_path applies, in place */
void fm_role_path_clean(char *path);
int fm_role_opt_slots(const char *value, int *out, fm_err *err);
int fm_role_opt_threads(const char *value, int *out, fm_err *err);
/* DuckDB's memory_limit: a size as base/opts.h reads it, handed to DuckDB in bytes ("…B") so both
 * agree on what "G" means. *out replaced; malloc'd. */
int fm_role_opt_memory_limit(const char *value, char **out, fm_err *err);
/* DuckDB's max_temp_directory_size (--max-temp-size), the same way: at least 1 MiB */
int fm_role_opt_max_temp_size(const char *value, char **out, fm_err *err);
#endif
