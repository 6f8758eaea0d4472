#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json_out.h"

static fm_log_level min_level = FM_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

static _Thread_local const char *ctx_controller, *ctx_object;

void fm_log_set_level(fm_log_level l) { min_level = l; }

void fm_log_context(const char *controller, const char *object) {
    ctx_controller = controller;
    ctx_object = object;
}

void fm_log(fm_log_level l, const char *fmt, ...) {
    if (l < min_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    fm_buf msg, line;
    fm_buf_init(&msg);
    fm_buf_init(&line);
    va_list ap;
    va_start(ap, fmt);
    fm_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    fm_buf_printf(&line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when, ts.tv_nsec / 1000000, names[l]);
    fm_json_string(&line, msg.data ? msg.data : "", msg.len);
    if (ctx_controller) {
        fm_buf_puts(&line, ",\"controller\":");
        fm_json_string(&line, ctx_controller, strlen(ctx_controller));
    }
    if (ctx_object) {
        fm_buf_puts(&line, ",\"object\":");
        fm_json_string(&line, ctx_object, strlen(ctx_object));
    }
    fm_buf_puts(&line, "}\n");
    fputs(line.data, stderr); /* one write per line keeps lines whole across threads */
    fm_buf_free(&msg);
    fm_buf_free(&line);
}
