/* Runs before anything else in the process, including the Swift runtime's own initialisation,
 * which reads SWIFT_* variables (SWIFT_DEBUG_HELP, SWIFT_BACKTRACE, SWIFT_ROOT, ...) even in a
 * setuid process. When the kernel marks the exec AT_SECURE (setuid, or real and effective ids
 * differ) or the process runs as root, the process's environment is emptied in place and the
 * caller's entries are kept aside for jitexec, which builds the command's environment from them
 * through its allowlist. The Swift
 * runtime, libdispatch, glibc (TZ, locale), libpam and its modules then see no caller-chosen
 * variable at all. Before that, malloc is tuned (jitexec_tune_malloc). */
#include "jitexec_startup.h"

#include <malloc.h>
#include <sys/auxv.h>
#include <unistd.h>

static char **inherited;     /* the caller's envp array (on the initial stack) */
static char *inherited_first; /* its first entry, which the emptied environment overwrote */
static int set_aside;

/* The room malloc adds whenever it grows a heap. glibc gives each new thread's arena (the store's
 * open and the group lookup run on threads of their own) this much beyond its first allocation,
 * and otherwise grows it a page at a time, with an mprotect() each: 23 of them in a run's store
 * open (strace). With 1 MiB the arena is mapped once; its pages are still touched only as they
 * are used. Measured: 0.08-0.15 ms a run (1,000-1,500 paired interleaved runs). */
#define JITEXEC_MALLOC_TOP_PAD (1 << 20)

static void jitexec_tune_malloc(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    (void)envp;
    (void)mallopt(M_TOP_PAD, JITEXEC_MALLOC_TOP_PAD);
}

__attribute__((section(".preinit_array"), used))
static void (*const jitexec_preinit_malloc)(int, char **, char **) = jitexec_tune_malloc;

static void jitexec_set_environment_aside(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    /* Root too (not only setuid runs): the login gate runs as root under pam_exec, whose
     * environment can carry what PAM modules read from a user's files (pam_env user_readenv). */
    if (envp == NULL || (getauxval(AT_SECURE) == 0 && geteuid() != 0)) return;
    inherited = envp;
    inherited_first = envp[0];
    set_aside = 1;
    /* environ and envp are the same array: a NULL first entry makes the environment empty for
     * getenv, the Swift runtime and every library, without allocating anything this early. */
    envp[0] = NULL;
}

/* .preinit_array entries of the executable run before every initialiser (shared libraries' and
 * the statically linked Swift runtime's). */
__attribute__((section(".preinit_array"), used))
static void (*const jitexec_preinit)(int, char **, char **) = jitexec_set_environment_aside;

int jitexec_environment_was_set_aside(void) { return set_aside; }

extern char **environ;

size_t jitexec_inherited_environment_count(void) {
    if (!set_aside) {
        size_t n = 0;
        while (environ != NULL && environ[n] != NULL) n++;
        return n;
    }
    if (inherited_first == NULL) return 0;
    size_t n = 1;
    while (inherited[n] != NULL) n++;
    return n;
}

const char *jitexec_inherited_environment_entry(size_t index) {
    if (!set_aside) return environ[index];
    return index == 0 ? inherited_first : inherited[index];
}
