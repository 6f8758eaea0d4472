/* The result formats of the query API and their names and media types, apart from the encoders
 * so that the roles without DuckDB (the gateway, request parsing) use them. */
#ifndef FM_FORMAT_H
#define FM_FORMAT_H

typedef enum { FM_FMT_CSV, FM_FMT_NDJSON, FM_FMT_ARROW } fm_format;

/* "csv" | "ndjson" | "arrow" (also "json" → ndjson); returns -1 for anything else */
int fm_format_parse(const char *name, fm_format *out);
/* from an Accept header: the first supported media type listed, or -1 if none is recognised */
int fm_format_from_accept(const char *accept, fm_format *out);
const char *fm_format_content_type(fm_format f);
const char *fm_format_name(fm_format f);
#endif
