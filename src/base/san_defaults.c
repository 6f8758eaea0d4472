/* Built-in LeakSanitizer suppressions, compiled into every build (the sanitizer runtime calls
 * this only when it is present). They live in the binary rather than a file because a
 * sandboxed process (sandbox.h) can no longer open a suppressions file at exit.
 * Suppressed: memory DuckDB and its extensions keep for the life of the process; featherman
 * frees everything it allocates. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libduckdb.so\nleak:duckdb_extension\n"; }
