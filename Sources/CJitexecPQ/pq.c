#include "jitexec_pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <postgresql/libpq-fe.h>

extern char **environ;

/* The wrappers' numbers are libpq's own. */
_Static_assert(PGRES_POLLING_FAILED == 0 && PGRES_POLLING_READING == 1 && PGRES_POLLING_WRITING == 2
                   && PGRES_POLLING_OK == 3,
               "libpq's polling states changed");

#define PQ_CALLS(X)                                                                                      \
    X(PQconninfoParse) X(PQconninfoFree) X(PQconnectStartParams) X(PQconnectPoll) X(PQstatus) X(PQsocket) \
    X(PQerrorMessage) X(PQfinish) X(PQsetnonblocking) X(PQsendQueryParams) X(PQsendQuery) X(PQflush)      \
    X(PQconsumeInput) X(PQisBusy) X(PQgetResult) X(PQresultStatus) X(PQresultErrorField)                 \
    X(PQresultErrorMessage) X(PQntuples) X(PQnfields) X(PQgetisnull) X(PQgetlength) X(PQgetvalue)         \
    X(PQftype) X(PQcmdTuples) X(PQclear) X(PQnotifies) X(PQfreemem) X(PQsetNoticeProcessor)

#define DECLARE(name) static __typeof__(name) *p_##name;
PQ_CALLS(DECLARE)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];

/* OpenSSL's RAND_bytes, from the libcrypto libpq loaded (NULL when libpq has none): its first call
 * in a process reads OpenSSL's configuration and seeds its generator (1.3-2 ms), which libpq
 * otherwise does in the middle of its first SCRAM exchange (jx_pq_warm_crypto). */
static int (*p_RAND_bytes)(unsigned char *, int);
static int crypto_warmup_taken;

static void load(void) {
    /* The soname through the dynamic loader's trusted directories: a setuid process runs in secure
     * mode, so LD_LIBRARY_PATH and friends are ignored (and jitexec's environment is empty anyway). */
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load libpq.so.5 (%s); install Debian's libpq5", dlerror());
        return;
    }
#define RESOLVE(name)                                                                               \
    if ((p_##name = (__typeof__(name) *)dlsym(lib, #name)) == NULL) {                               \
        snprintf(load_error, sizeof load_error, "libpq.so.5 has no %s; install Debian's libpq5", #name); \
        return;                                                                                     \
    }
    PQ_CALLS(RESOLVE)
    p_RAND_bytes = (int (*)(unsigned char *, int))dlsym(lib, "RAND_bytes");
}

int jx_pq_has_crypto_warmup(void) { return p_RAND_bytes != NULL; }

int jx_pq_take_crypto_warmup(void) {
    return p_RAND_bytes != NULL && !__atomic_exchange_n(&crypto_warmup_taken, 1, __ATOMIC_ACQ_REL);
}

void jx_pq_warm_crypto(void) {
    unsigned char bytes[16];
    if (p_RAND_bytes != NULL) (void)p_RAND_bytes(bytes, (int)sizeof bytes);
}

int jx_pq_load(char *err, size_t errlen) {
    pthread_once(&load_once, load);
    if (p_PQclear != NULL && load_error[0] == '\0') return 0;
    snprintf(err, errlen, "%s", load_error[0] ? load_error : "cannot load libpq");
    return -1;
}

/* Notices (warnings the server sends) would go to stderr: the caller's terminal. Dropped. */
static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* Removes every PG* variable from the environment: libpq reads them for any setting the URL leaves
 * unset (PGPASSWORD, PGSERVICEFILE, PGSSLROOTCERT, ...). */
static void drop_pg_environment(void) {
    for (;;) {
        char name[256];
        int found = 0;
        for (char **e = environ; e != NULL && *e != NULL; e++) {
            if (strncmp(*e, "PG", 2) != 0) continue;
            const char *eq = strchr(*e, '=');
            size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
            if (n >= sizeof name) n = sizeof name - 1;
            memcpy(name, *e, n);
            name[n] = '\0';
            found = 1;
            break;
        }
        if (!found) return;
        if (unsetenv(name) != 0) return;
    }
}

static const char *option(const PQconninfoOption *options, const char *keyword) {
    for (const PQconninfoOption *o = options; o->keyword != NULL; o++)
        if (strcmp(o->keyword, keyword) == 0) return o->val;
    return NULL;
}

#define MAX_SETTINGS 64

struct pg_conn *jx_pq_connect_start(const char *url, int timeout_ms, char *err, size_t errlen) {
    if (jx_pq_load(err, errlen) != 0) return NULL;
    drop_pg_environment();
    char *parse_error = NULL;
    PQconninfoOption *options = p_PQconninfoParse(url, &parse_error);
    if (options == NULL) {
        /* libpq's message can quote part of the URL (a password): say only that it is malformed. */
        snprintf(err, errlen, "%s", parse_error ? "it is not a valid libpq connection URL" : "out of memory");
        if (parse_error) p_PQfreemem(parse_error);
        return NULL;
    }
    if (option(options, "service") != NULL) {
        p_PQconninfoFree(options);
        snprintf(err, errlen, "it names a service= (a file outside jitexec's control); write the settings in the URL");
        return NULL;
    }
    const char *keys[MAX_SETTINGS + 1];
    const char *values[MAX_SETTINGS + 1];
    int n = 0;
    for (const PQconninfoOption *o = options; o->keyword != NULL && n < MAX_SETTINGS - 16; o++) {
        if (o->val == NULL) continue;
        keys[n] = o->keyword;
        values[n] = o->val;
        n++;
    }
    static const char *const absent = "/nonexistent/jitexec-not-configured";
    static const struct {
        const char *key;
        const char *value;
    } defaults[] = {
        {"passfile", absent},     {"sslcert", absent},        {"sslkey", absent},       {"sslrootcert", absent},
        {"sslcrl", absent},       {"sslcrldir", absent},      {"gssencmode", "disable"}, {"application_name", "jitexec"},
        {"keepalives", "1"},      {"keepalives_idle", "5"},   {"keepalives_interval", "2"},
        {"keepalives_count", "3"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if (option(options, defaults[i].key) != NULL) continue;
        keys[n] = defaults[i].key;
        values[n] = defaults[i].value;
        n++;
    }
    char user_timeout[32];
    if (option(options, "tcp_user_timeout") == NULL) {
        snprintf(user_timeout, sizeof user_timeout, "%d", timeout_ms);
        keys[n] = "tcp_user_timeout";
        values[n] = user_timeout;
        n++;
    }
    /* The server-side limits are not sent here as options=-c ...: connection poolers (pgbouncer) refuse
     * that startup parameter. PGConnection sets them in the connection's first statement. */
    keys[n] = NULL;
    values[n] = NULL;
    PGconn *conn = p_PQconnectStartParams(keys, values, 0);
    p_PQconninfoFree(options);
    if (conn == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p_PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

int jx_pq_connect_poll(struct pg_conn *conn) { return (int)p_PQconnectPoll(conn); }
int jx_pq_connection_ok(struct pg_conn *conn) { return p_PQstatus(conn) == CONNECTION_OK; }
int jx_pq_socket(const struct pg_conn *conn) { return p_PQsocket(conn); }
const char *jx_pq_error_message(const struct pg_conn *conn) { return p_PQerrorMessage(conn); }
void jx_pq_finish(struct pg_conn *conn) { p_PQfinish(conn); }
int jx_pq_set_nonblocking(struct pg_conn *conn) { return p_PQsetnonblocking(conn, 1); }

int jx_pq_send_params(struct pg_conn *conn, const char *sql, int count, const unsigned int *types,
                      const char *const *values, const int *lengths, const int *formats) {
    return p_PQsendQueryParams(conn, sql, count, types, values, lengths, formats, 1);
}

int jx_pq_send_query(struct pg_conn *conn, const char *sql) { return p_PQsendQuery(conn, sql); }
int jx_pq_flush(struct pg_conn *conn) { return p_PQflush(conn); }
int jx_pq_consume_input(struct pg_conn *conn) { return p_PQconsumeInput(conn); }
int jx_pq_is_busy(struct pg_conn *conn) { return p_PQisBusy(conn); }
struct pg_result *jx_pq_get_result(struct pg_conn *conn) { return p_PQgetResult(conn); }

int jx_pq_result_kind(const struct pg_result *res) {
    switch (p_PQresultStatus(res)) {
    case PGRES_COMMAND_OK: return 0;
    case PGRES_TUPLES_OK: return 1;
    case PGRES_FATAL_ERROR:
    case PGRES_BAD_RESPONSE: return 2;
    default: return 3;
    }
}

const char *jx_pq_result_sqlstate(const struct pg_result *res) { return p_PQresultErrorField(res, PG_DIAG_SQLSTATE); }
const char *jx_pq_result_message(const struct pg_result *res) { return p_PQresultErrorMessage(res); }
int jx_pq_ntuples(const struct pg_result *res) { return p_PQntuples(res); }
int jx_pq_nfields(const struct pg_result *res) { return p_PQnfields(res); }
int jx_pq_getisnull(const struct pg_result *res, int row, int column) { return p_PQgetisnull(res, row, column); }
int jx_pq_getlength(const struct pg_result *res, int row, int column) { return p_PQgetlength(res, row, column); }
const char *jx_pq_getvalue(const struct pg_result *res, int row, int column) { return p_PQgetvalue(res, row, column); }
unsigned int jx_pq_ftype(const struct pg_result *res, int column) { return p_PQftype(res, column); }
const char *jx_pq_cmd_tuples(struct pg_result *res) { return p_PQcmdTuples(res); }
void jx_pq_clear(struct pg_result *res) { p_PQclear(res); }

int jx_pq_next_notify(struct pg_conn *conn, char *channel, size_t channel_len, char *payload, size_t payload_len) {
    PGnotify *n = p_PQnotifies(conn);
    if (n == NULL) return 0;
    snprintf(channel, channel_len, "%s", n->relname ? n->relname : "");
    snprintf(payload, payload_len, "%s", n->extra ? n->extra : "");
    p_PQfreemem(n);
    return 1;
}
