#include "jitexec_config.h"

const char *const jitexec_prefix = JITEXEC_PREFIX;
const char *const jitexec_sysconfdir = JITEXEC_SYSCONFDIR;
const char *const jitexec_localstatedir = JITEXEC_LOCALSTATEDIR;
const char *const jitexec_rundir = JITEXEC_RUNDIR;
const char *const jitexec_pam_service = JITEXEC_PAM_SERVICE;
const char *const jitexec_version = JITEXEC_VERSION;
