/* The signal model of every long-running role: SIGTERM and SIGINT are blocked in every thread
 * (call fm_signals_block from the main thread before starting any thread, so threads inherit the
 * mask) and taken by the role's main loop with sigwait/sigtimedwait; SIGPIPE is ignored so a
 * closed socket is an error return, not a death. */
#ifndef FM_SIGNALS_H
#define FM_SIGNALS_H

void fm_signals_block(void);
/* waits up to timeout_ms (-1: forever) for SIGTERM or SIGINT; returns the signal, or 0 on timeout.
 * Only the thread that owns the role's main loop calls it. */
int fm_signals_wait(long timeout_ms);
#endif
