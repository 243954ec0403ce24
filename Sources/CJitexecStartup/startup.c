/* Runs before anything else in the process, including the Swift runtime's own initialisation,
 * which reads SWIFT_* variables (SWIFT_DEBUG_HELP, SWIFT_BACKTRACE, SWIFT_ROOT, ...) even in a
 * setuid process. When the kernel marks the exec AT_SECURE (setuid, or real and effective ids
 * differ) or the process runs as root, the process's environment is emptied in place and the
 * caller's entries are kept aside for jitexec, which builds the command's environment from them
 * through its allowlist. The Swift
 * runtime, libdispatch, glibc (TZ, locale), libpam and its modules then see no caller-chosen
 * variable at all. */
#include "jitexec_startup.h"

#include <sys/auxv.h>
#include <unistd.h>

static char **inherited;     /* the caller's envp array (on the initial stack) */
static char *inherited_first; /* its first entry, which the emptied environment overwrote */
static int set_aside;

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
