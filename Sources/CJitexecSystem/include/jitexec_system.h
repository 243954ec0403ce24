#ifndef JITEXEC_EXEC_H
#define JITEXEC_EXEC_H
/*
 * The part of running a command that must be C: everything between fork() and execve(), where
 * only async-signal-safe calls are allowed, plus the signal handlers, the terminal ioctls,
 * syslog (variadic, so Swift cannot call them), the start of a thread on another CPU (the CPU
 * set macros are not Swift's either) and the loaded objects kept mapped (dl_iterate_phdr takes a
 * callback). The Swift side (JitexecExec) owns all policy.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

/* What the child does between fork() and execve(). Every pointer must stay valid until jx_spawn
 * returns; the child only reads them. */
typedef struct jx_child_spec {
    const char *path;   /* canonical absolute path, executed as is */
    char *const *argv;  /* NULL-terminated, argv[0] included */
    char *const *envp;  /* NULL-terminated "K=V" */
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* supplementary groups of the target */
    size_t ngroups;
    mode_t umask;
    const char *cwd;     /* NULL: keep the current directory */
    int fds[3];          /* descriptors that become 0, 1 and 2 in the command */
    int controlling_tty; /* -1, or a pty slave made the controlling terminal of a new session */
    int new_session;     /* non-zero: setsid() even without a terminal (its own process group) */
    int parent_death_signal; /* 0, or the signal the command gets when this process dies (set after
                                the identity change, which would clear it) */
} jx_child_spec;

/* The child step that failed, reported through the CLOEXEC pipe as (step, errno). */
typedef enum jx_step {
    JX_STEP_NONE = 0,
    JX_STEP_SIGNALS = 1,
    JX_STEP_STDIO = 2,
    JX_STEP_SESSION = 3,
    JX_STEP_CTTY = 4,
    JX_STEP_CLOSE_FDS = 5,
    JX_STEP_SETGROUPS = 6,
    JX_STEP_SETGID = 7,
    JX_STEP_SETUID = 8,
    JX_STEP_VERIFY = 9,
    JX_STEP_CHDIR = 10,
    JX_STEP_EXEC = 11,
} jx_step;

/* One failure report from the child; a successful execve closes the pipe without writing. */
typedef struct jx_child_failure {
    int32_t step;
    int32_t error;
} jx_child_failure;

/* Starts the child as posix_spawn does: in this process's memory (clone with CLONE_VM and
 * CLONE_VFORK, on a stack of its own), so nothing is copied and this thread is suspended until the
 * child has executed or ended. The child sets itself up as described by spec and executes it, or
 * writes one jx_child_failure to the pipe and _exit(127)s. Returns the child's pid and stores the
 * read end of the report pipe (CLOEXEC) in *report_fd; -1 with errno on failure (nothing started).
 * Under a sanitizer it forks instead (the sanitizer's run-time state would be shared). */
pid_t jx_spawn(const jx_child_spec *spec, int *report_fd);

/* prctl(PR_SET_CHILD_SUBREAPER, on): orphaned descendants are re-parented to this process instead
 * of init, so none can leave the tree by double-forking or setsid(). 0, or -1 with errno. */
int jx_set_child_subreaper(int on);

/* Starts `path` detached from this process and as root through and through: forks; the child
 * resets every signal, starts a new session, takes uid and gid 0 as real, effective and saved ids
 * with no supplementary group but 0, forks again and exits, so the grandchild is nobody's child
 * here; the grandchild points 0, 1 and 2 at /dev/null, closes every other descriptor, changes to
 * "/", sets umask 022 and executes path with exactly argv and envp. Returns once the grandchild
 * has executed (0) or failed (-1 with errno: its errno, or fork's); the intermediate child is
 * reaped before returning. The caller must be euid 0. */
int jx_spawn_detached(const char *path, char *const *argv, char *const *envp);

/* Runs body(arg) in a child process of its own, for work that may crash on hostile input (the
 * TOML parser). The child takes gid and uid as real, effective and saved ids when uid is not
 * (uid_t)-1 (exit status 111 when it cannot), points 0, 1 and 2 at /dev/null, sets the crash
 * signals (SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) to their default action so a crash
 * ends it at once, calls body and _exits with its return value. It does not exec: the caller must
 * be single-threaded. Returns the child's pid, or -1 with errno (nothing forked). */
pid_t jx_fork_isolated(uid_t uid, gid_t gid, int (*body)(void *), void *arg);

/* A new close-on-exec memfd that can be sealed, for a helper command's input; -1 with errno. */
int jx_sealed_input_file(void);

/* Seals the memfd `fd` against any change (write, grow, shrink, more seals); 0, or -1 with errno. */
int jx_seal_input_file(int fd);

/* 1 when child `pid` has ended (it stays a zombie: not reaped, so its pid and process group id
 * cannot be reused yet), 0 while it runs, -1 with errno on failure. */
int jx_child_has_ended(pid_t pid);

/* Undoes what a caller can leave on a process across a setuid exec and that could end, stop or
 * starve it at a moment the caller picks: armed interval timers (disarmed), an ignored SIGCHLD
 * (default again, so children can be waited for), a blocked signal mask (emptied), a raised nice
 * value, an idle or batch scheduling policy, an idle I/O class and a one-CPU affinity (all back to
 * the defaults). SIGPIPE is ignored: a closed pipe is an error to report, never a death half-way.
 * Returns 0, or -1 with errno of the first step that failed (the rest is still done). Needs root. */
int jx_reset_process_state(void);

/* One caught signal, as written by the handler into the self-pipe. */
typedef struct jx_signal_event {
    int32_t signo;
    int32_t code; /* si_code: <= 0 sent by a process (kill, sigqueue), > 0 by the kernel */
    int32_t pid;  /* si_pid: the sender when code <= 0 */
} jx_signal_event;

/* Starts supervising in this process: takes the process-wide supervision lock (one command at a
 * time), installs handlers for the forwarded signals and SIGCHLD that write jx_signal_event
 * records into a non-blocking self-pipe, and ignores SIGPIPE. Those signals and SIGTTIN/SIGTTOU are
 * unblocked (jx_signals_end puts the mask back). Returns the pipe's read end, or -1
 * with errno (the lock is then not held). */
int jx_signals_begin(void);

/* Restores the dispositions saved by jx_signals_begin and releases the lock. */
void jx_signals_end(void);

/* Stops this process with `signo` the way the shell expects (default disposition while it is
 * delivered); returns once the process has been continued. */
void jx_suspend_self(int signo);


/* Opens a new pseudo-terminal: master non-blocking, both ends O_NOCTTY and CLOEXEC. The slave's
 * path is written to name. Returns 0, or -1 with errno (nothing left open). */
int jx_open_pty(int *master, int *slave, char *name, size_t name_len);

/* TIOCGWINSZ / TIOCSWINSZ. Return 0, or -1 with errno. */
int jx_get_winsize(int fd, struct winsize *size);
int jx_set_winsize(int fd, const struct winsize *size);

/* A non-blocking, close-on-exec signalfd for `signals` (which the caller keeps blocked), so a wait
 * can poll for them beside other descriptors; -1 with errno on failure. */
int jx_signalfd(const sigset_t *signals);

/* Takes one signal from a jx_signalfd descriptor: its number, or 0 when none is pending. */
int jx_signalfd_take(int fd);

/* syslog(priority, "%s", text): one line, never a format string. */
void jx_syslog(int priority, const char *text);

/* Starts `start(arg)` on a new thread with every signal blocked: 0, or an errno value (EAGAIN when
 * this process may use one CPU only: a thread that must share the caller's CPU would only wait for
 * it). */
int jx_thread_start_beside(pthread_t *thread, void *(*start)(void *), void *arg);

/* Marks every shared object this process has loaded so that no dlclose unmaps it: they stay mapped
 * until the process exits. Loads nothing. */
void jx_keep_loaded_objects(void);

/* How many CPUs this process may use besides one (0 when only one, or on failure). */
int jx_cpus_beside(void);

#endif
