// Stop signals: what Ctrl-C, `timeout`, systemd and CI runners send.
#include "CWaveRTShim.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static atomic_int first_stop_signal = 0;

static void on_stop_signal(int signo) {
    int expected = 0;
    // The first signal asks for a clean stop; the next one means "now".
    if (!atomic_compare_exchange_strong(&first_stop_signal, &expected, signo)) _exit(128 + signo);
}

int wrt_install_stop_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // interrupted reads and writes resume; sleepers re-check the flag
    const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    sigset_t stop;
    sigemptyset(&stop);
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return errno;
        sigaddset(&stop, signals[i]);
    }
    // A process may start with them blocked (the mask survives exec: some
    // launchers spawn children with every signal blocked). Unblocked here, in
    // the thread that runs the player, and so in every thread it starts.
    return pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
}

int wrt_stop_signal(void) { return atomic_load(&first_stop_signal); }
