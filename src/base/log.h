/* Structured logging to stderr, one JSON object per line ({"ts","level","msg",...}). Never pass
 * a secret (token, password, S3 key) to these functions: logs are read by people and shipped. */
#ifndef FM_LOG_H
#define FM_LOG_H
typedef enum { FM_LOG_DEBUG, FM_LOG_INFO, FM_LOG_WARN, FM_LOG_ERROR } fm_log_level;
void fm_log_set_level(fm_log_level l);
/* per-thread fields added to every line this thread logs, e.g. a reconcile's
 * {"controller":"catalog","object":"ns/name"}; NULL clears. The strings must outlive the context. */
void fm_log_context(const char *controller, const char *object);
void fm_log(fm_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define fm_debug(...) fm_log(FM_LOG_DEBUG, __VA_ARGS__)
#define fm_info(...) fm_log(FM_LOG_INFO, __VA_ARGS__)
#define fm_warn(...) fm_log(FM_LOG_WARN, __VA_ARGS__)
#define fm_error(...) fm_log(FM_LOG_ERROR, __VA_ARGS__)
#endif
