/* Signal set-up shared by every serving role (signals.h): SIGTERM/SIGINT are blocked
 * in every thread and taken by the role's main loop with sigwait; SIGPIPE is ignored. */
#include <pthread.h>
#include <signal.h>

#include "base/signals.h"

void fm_signals_block(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}
