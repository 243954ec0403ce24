#ifndef JITEXEC_CONFIG_H
#define JITEXEC_CONFIG_H
/* Paths baked in at build time (make PREFIX=... SYSCONFDIR=... LOCALSTATEDIR=... RUNDIR=... PAM_SERVICE=...). */
extern const char *const jitexec_prefix;
extern const char *const jitexec_sysconfdir;
extern const char *const jitexec_localstatedir;
extern const char *const jitexec_rundir;
extern const char *const jitexec_pam_service;
extern const char *const jitexec_version;
#endif
