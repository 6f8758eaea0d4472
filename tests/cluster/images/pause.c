/* The test cluster's pod sandbox process (the "pause" container of every Pod): it holds the Pod's
 * namespaces open and does nothing else. As PID 1 of the sandbox it reaps the orphans a shared
 * process namespace hands it and exits 0 on SIGINT/SIGTERM, which the container runtime sends to
 * stop the sandbox. Built static (no libraries in its FROM scratch image) by tests/cluster/images.py. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
    (void)sig;
    _exit(0);
}

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "-v")) {
        puts("featherman test pause 1");
        return 0;
    }
    if (getpid() != 1) fprintf(stderr, "pause: warning: not PID 1\n");
    struct sigaction stop = {.sa_handler = on_stop}, child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
    if (sigaction(SIGINT, &stop, NULL) || sigaction(SIGTERM, &stop, NULL) || sigaction(SIGCHLD, &child, NULL)) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) pause();
}
