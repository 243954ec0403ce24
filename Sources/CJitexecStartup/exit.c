/* The end of the process, without the wait for its memory to be freed. Unmapping jitexec's address
 * space (the pages of the binary, its libraries and heap a run touched) is most of what a process
 * exit costs the kernel, about a twentieth of a run, and the caller's wait4() returns only after it.
 * So, right before exit(), a holder is started in this process's memory (clone with CLONE_VM, as
 * the command's child is, on a stack of its own): while it lives the address space is not the
 * exiting process's last user, and the caller gets the status without waiting for the unmapping.
 * The holder waits for this process's descriptors to close (its pipe reaching end of file, which
 * happens in the kernel's exit, after the address space is let go) and then ends; the unmapping is
 * then its exit's.
 *
 * The holder runs no code of jitexec's: it closes its copy of the descriptor table (its own, no
 * CLONE_FILES), leaving the pipe, reads, and exits, with raw system calls, on its own stack, with
 * every signal blocked (so no handler of the parent's runs in it). It is root (jitexec's real ids
 * are root by then), so the caller cannot signal it; it is not traced (CLONE_UNTRACED). Orphaned at
 * once, it is reaped by init or by the caller's subreaper. Builds with a sanitizer exit plainly: a
 * process sharing the memory would share the sanitizer's run-time state. */
#define _GNU_SOURCE
#include "jitexec_startup.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define JX_PLAIN_EXIT 1
#endif
#endif

#ifndef JX_PLAIN_EXIT
static char holder_stack[16384] __attribute__((aligned(64)));
static int holder_pipe[2];

static int hold(void *unused) {
    (void)unused;
    unsigned int kept = (unsigned int)holder_pipe[0];
    if (kept > 0) (void)syscall(SYS_close_range, 0U, kept - 1, 0U);
    (void)syscall(SYS_close_range, kept + 1, ~0U, 0U);
    /* One read: with every signal blocked it is not interrupted (a stop and continue restarts it),
     * and on any error the holder ends all the same, never spinning. */
    char byte;
    (void)syscall(SYS_read, kept, &byte, 1);
    (void)syscall(SYS_exit, 0);
    return 0;
}
#endif

void jitexec_exit(int status) {
#ifndef JX_PLAIN_EXIT
    sigset_t all;
    sigfillset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, NULL);
    if (pipe2(holder_pipe, O_CLOEXEC) == 0) {
        /* No exit signal: this process ends first, and the holder's new parent is told as usual. */
        if (clone(hold, holder_stack + sizeof holder_stack, CLONE_VM | CLONE_UNTRACED, NULL) < 0) {
            (void)close(holder_pipe[1]);
        }
        (void)close(holder_pipe[0]);
    }
#endif
    exit(status);
}
