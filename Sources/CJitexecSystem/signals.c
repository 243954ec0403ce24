/*
 * The parent side: signal handlers that only write a record into a self-pipe (the supervisor's
 * poll loop does the work), self-suspension for job control, the pseudo-terminal ioctls,
 * syslog, and a thread started on another CPU with every signal blocked.
 */
#define _GNU_SOURCE
#include "jitexec_system.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <syslog.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The signals the supervisor handles while a command runs. */
static const int caught[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTSTP, SIGCONT, SIGCHLD,
};
#define CAUGHT_COUNT (sizeof caught / sizeof caught[0])

/* One supervised command per process at a time: the handlers and the pipe are process-wide. */
static pthread_mutex_t supervision = PTHREAD_MUTEX_INITIALIZER;
static int pipe_read = -1;
static volatile sig_atomic_t pipe_write = -1; /* created once, never closed */
static struct sigaction saved_actions[CAUGHT_COUNT];
static struct sigaction saved_sigpipe;
static sigset_t saved_mask;

/* Async-signal-safe: one write of a fixed-size record (atomic, below PIPE_BUF). When the pipe is
 * full the record is dropped; the supervisor also polls waitpid on a timeout. */
static void on_signal(int signo, siginfo_t *info, void *context) {
    (void)context;
    int saved_errno = errno;
    jx_signal_event event = {.signo = signo, .code = info->si_code, .pid = info->si_pid};
    int fd = pipe_write;
    if (fd >= 0) {
        ssize_t written = write(fd, &event, sizeof event);
        (void)written;
    }
    errno = saved_errno;
}

/* Puts back the first `count` saved dispositions. */
static void restore_actions(size_t count) {
    for (size_t i = 0; i < count; i++) (void)sigaction(caught[i], &saved_actions[i], NULL);
}

int jx_signals_begin(void) {
    pthread_mutex_lock(&supervision);
    if (pipe_read < 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            int error = errno;
            pthread_mutex_unlock(&supervision);
            errno = error;
            return -1;
        }
        pipe_read = fds[0];
        pipe_write = fds[1];
    }
    char stale[256]; /* records left over from an earlier command */
    while (read(pipe_read, stale, sizeof stale) > 0) {}

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&action.sa_mask);
    for (size_t i = 0; i < CAUGHT_COUNT; i++) {
        if (sigaction(caught[i], &action, &saved_actions[i]) != 0) {
            int error = errno;
            restore_actions(i);
            pthread_mutex_unlock(&supervision);
            errno = error;
            return -1;
        }
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    (void)sigaction(SIGPIPE, &ignore, &saved_sigpipe);

    /* This thread must be able to take them (another thread may as well), even when the caller held
     * them until now (TerminalSignals); background reads and writes stop this process as usual. */
    sigset_t unblock;
    sigemptyset(&unblock);
    for (size_t i = 0; i < CAUGHT_COUNT; i++) sigaddset(&unblock, caught[i]);
    sigaddset(&unblock, SIGTTIN);
    sigaddset(&unblock, SIGTTOU);
    pthread_sigmask(SIG_UNBLOCK, &unblock, &saved_mask);
    return pipe_read;
}

void jx_signals_end(void) {
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
    (void)sigaction(SIGPIPE, &saved_sigpipe, NULL);
    restore_actions(CAUGHT_COUNT);
    pthread_mutex_unlock(&supervision);
}

void jx_suspend_self(int signo) {
    struct sigaction previous;
    int restore = 0;
    if (signo == SIGTSTP) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        restore = sigaction(SIGTSTP, &dfl, &previous) == 0;
    }
    /* Sent to this thread (raise is tgkill), so it is delivered here before raise() returns, with
     * the default action just set. kill(getpid()) would let the kernel pick another thread of a
     * threaded process (the unit tests run the supervisor on a worker thread): this thread could
     * put the handler back first, and the late signal would then be caught and forwarded to the
     * command as a second stop that nobody continues. jitexec has one thread by then: what ran
     * beside the command (the store's checkpoint) was joined first (SessionControl.beforeSuspend). */
    (void)raise(signo);
    if (restore) (void)sigaction(SIGTSTP, &previous, NULL);
}

int jx_open_pty(int *master, int *slave, char *name, size_t name_len) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    int s = -1;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, name_len) != 0) goto fail;
    int flags = fcntl(m, F_GETFL);
    if (flags < 0 || fcntl(m, F_SETFL, flags | O_NONBLOCK) != 0) goto fail;
#ifdef TIOCGPTPEER
    s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC); /* no path lookup race */
#endif
    if (s < 0) s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) goto fail;
    *master = m;
    *slave = s;
    return 0;
fail:;
    int error = errno;
    (void)close(m);
    errno = error;
    return -1;
}

int jx_get_winsize(int fd, struct winsize *size) { return ioctl(fd, TIOCGWINSZ, size); }

int jx_set_winsize(int fd, const struct winsize *size) { return ioctl(fd, TIOCSWINSZ, size); }

int jx_reset_process_state(void) {
    int failed = 0;
#define JX_STEP(call)                        \
    do {                                     \
        if ((call) != 0 && failed == 0) failed = errno; \
    } while (0)
    struct itimerval off;
    memset(&off, 0, sizeof off);
    JX_STEP(setitimer(ITIMER_REAL, &off, NULL));
    JX_STEP(setitimer(ITIMER_VIRTUAL, &off, NULL));
    JX_STEP(setitimer(ITIMER_PROF, &off, NULL));

    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_DFL;
    JX_STEP(sigaction(SIGCHLD, &action, NULL));
    action.sa_handler = SIG_IGN;
    JX_STEP(sigaction(SIGPIPE, &action, NULL));
    sigset_t none;
    sigemptyset(&none);
    JX_STEP(pthread_sigmask(SIG_SETMASK, &none, NULL));

    JX_STEP(setpriority(PRIO_PROCESS, 0, 0));
    struct sched_param normal;
    memset(&normal, 0, sizeof normal);
    JX_STEP(sched_setscheduler(0, SCHED_OTHER, &normal));
    /* ioprio_set(IOPRIO_WHO_PROCESS, self, IOPRIO_CLASS_NONE): the default, from the nice value. */
    JX_STEP((int)syscall(SYS_ioprio_set, 1, 0, 0));
    unsigned long every_cpu[1024 / (8 * sizeof(unsigned long))];
    memset(every_cpu, 0xff, sizeof every_cpu);
    JX_STEP((int)syscall(SYS_sched_setaffinity, 0, sizeof every_cpu, every_cpu));
#undef JX_STEP
    if (failed != 0) {
        errno = failed;
        return -1;
    }
    return 0;
}

int jx_signalfd(const sigset_t *signals) { return signalfd(-1, signals, SFD_NONBLOCK | SFD_CLOEXEC); }

int jx_signalfd_take(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do {
        n = read(fd, &info, sizeof info);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}

/* Swift reaches vsyslog only through withVaList, whose CVarArg casts scan the binary's protocol
 * conformances on every record. */
void jx_syslog(int priority, const char *text) { syslog(priority, "%s", text); }

int jx_cpus_beside(void) {
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) return 0;
    int beside = CPU_COUNT(&cpus) - 1;
    return beside > 0 ? beside : 0;
}

/* The thread is not bound to a CPU: bound to one other than its creator's, it waited whenever that
 * CPU was busy (a run 3.8 ms slower with one busy loop on the machine, and 0.3 ms slower than
 * unbound on an idle one); the kernel decides where and when it runs. */
int jx_thread_start_beside(pthread_t *thread, void *(*start)(void *), void *arg) {
    if (jx_cpus_beside() == 0) return EAGAIN;
    sigset_t all, saved;
    sigfillset(&all);
    int failed = pthread_sigmask(SIG_SETMASK, &all, &saved);
    if (failed != 0) return failed;
    failed = pthread_create(thread, NULL, start, arg);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return failed;
}
