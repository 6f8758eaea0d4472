#include "base/err.h"

#include <stdio.h>

int fm_fail(fm_err *err, fm_errcode code, const char *fmt, ...) {
    if (!err) return -1;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void fm_err_clear(fm_err *err) {
    if (!err) return;
    err->code = FM_OK;
    err->msg[0] = 0;
}

const char *fm_errcode_name(fm_errcode code) {
    switch (code) {
    case FM_OK: return "ok";
    case FM_E_INVALID: return "invalid";
    case FM_E_NOT_FOUND: return "not_found";
    case FM_E_REFUSED: return "refused";
    case FM_E_UNAVAILABLE: return "unavailable";
    case FM_E_TIMEOUT: return "timeout";
    case FM_E_BUSY: return "busy";
    case FM_E_INTERNAL: return "internal";
    }
    return "internal";
}
