#ifndef JITEXEC_STARTUP_H
#define JITEXEC_STARTUP_H

#include <stddef.h>

/* The environment the caller passed, as it was before startup.c emptied the process's own
 * environment (setuid and root runs). Entries are "NAME=value" C strings, in the caller's order. */
size_t jitexec_inherited_environment_count(void);
const char *jitexec_inherited_environment_entry(size_t index);

/* 1 when the environment was set aside at startup (an AT_SECURE exec, or euid 0). */
int jitexec_environment_was_set_aside(void);

/* exit(status), leaving the unmapping of the process's memory to a holder that ends right after
 * (exit.c). */
_Noreturn void jitexec_exit(int status);

#endif
