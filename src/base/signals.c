/* Signal set-up shared by every serving role (signals.h): SIGTERM/SIGINT are blocked
 * in every thread and taken by the role's main loop with sigwait; SIGPIPE is ignored. */
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "base/signals.h"

void fm_signals_block(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int fm_signals_wait(long timeout_ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    for (;;) {
        int sig;
        if (timeout_ms < 0) {
            if (sigwait(&set, &sig) == 0) return sig;
            continue;
        }
        struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0) return sig;
        if (errno == EAGAIN) return 0;
        /* EINTR: another signal's handler ran; wait again (the remaining time is close enough) */
    }
}
