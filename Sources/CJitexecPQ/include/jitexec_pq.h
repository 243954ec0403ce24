/* libpq, loaded on demand. jitexec and jitctl do not link libpq: a host on SQLite never loads it
 * (nor the TLS, Kerberos and LDAP libraries it pulls in). The first use of the PostgreSQL store
 * dlopen()s Debian's libpq.so.5 and resolves the calls below; everything else here is a thin wrapper
 * with the same meaning as the libpq function it names. Only pq.c sees libpq-fe.h. */
#ifndef JITEXEC_PQ_H
#define JITEXEC_PQ_H

#include <stddef.h>

struct pg_conn;
struct pg_result;

/* Loads libpq once; 0 when it is usable, -1 with the reason in err. */
int jx_pq_load(char *err, size_t errlen);

/* 1 the first time it is called after jx_pq_load in a process, when libpq's libcrypto has
 * RAND_bytes: the caller then runs jx_pq_warm_crypto on a thread beside its first connection. */
int jx_pq_take_crypto_warmup(void);
/* 1 when the loaded libpq's libcrypto has RAND_bytes (Debian's: OpenSSL). */
int jx_pq_has_crypto_warmup(void);
/* OpenSSL's first use (its configuration read, its random generator seeded), as libpq's SCRAM
 * exchange would make it; thread-safe (OpenSSL initializes once, other callers wait for it). */
void jx_pq_warm_crypto(void);

/* Parses url (a libpq URL or key=value string), applies jitexec's fixed connection settings and
 * starts a non-blocking connection. Settings jitexec fixes: the PG* environment is removed from the
 * process first; `service` is refused; every file libpq would look for in a home directory
 * (passfile, sslcert, sslkey, sslrootcert, sslcrl, sslcrldir) is a path that does not exist unless
 * the URL names it; gssencmode=disable unless the URL asks; TCP keepalives and tcp_user_timeout
 * (timeout_ms). The URL's own `options`, if any, are sent as given; the server-side timeouts are not
 * among them (PGConnection sets them in the first statement). NULL on a bad URL (err says why,
 * without echoing the URL) or when out of memory. */
struct pg_conn *jx_pq_connect_start(const char *url, int timeout_ms, char *err, size_t errlen);

/* PQconnectPoll: 0 failed, 1 wait to read, 2 wait to write, 3 connected. */
int jx_pq_connect_poll(struct pg_conn *conn);
int jx_pq_connection_ok(struct pg_conn *conn);
int jx_pq_socket(const struct pg_conn *conn);
const char *jx_pq_error_message(const struct pg_conn *conn);
void jx_pq_finish(struct pg_conn *conn);
int jx_pq_set_nonblocking(struct pg_conn *conn);

/* PQsendQueryParams asking for binary results; PQsendQuery for parameterless scripts. 1 = sent. */
int jx_pq_send_params(struct pg_conn *conn, const char *sql, int count, const unsigned int *types,
                      const char *const *values, const int *lengths, const int *formats);
int jx_pq_send_query(struct pg_conn *conn, const char *sql);
/* PQflush: 0 all sent, 1 more to send, -1 failed. */
int jx_pq_flush(struct pg_conn *conn);
/* PQconsumeInput: 1 ok, 0 failed (the connection is broken). */
int jx_pq_consume_input(struct pg_conn *conn);
int jx_pq_is_busy(struct pg_conn *conn);
struct pg_result *jx_pq_get_result(struct pg_conn *conn);

/* The result's status: 0 command done, 1 rows, 2 failed, 3 anything else. */
int jx_pq_result_kind(const struct pg_result *res);
/* The SQLSTATE ("23505") or NULL; the error message or "". */
const char *jx_pq_result_sqlstate(const struct pg_result *res);
const char *jx_pq_result_message(const struct pg_result *res);
int jx_pq_ntuples(const struct pg_result *res);
int jx_pq_nfields(const struct pg_result *res);
int jx_pq_getisnull(const struct pg_result *res, int row, int column);
int jx_pq_getlength(const struct pg_result *res, int row, int column);
const char *jx_pq_getvalue(const struct pg_result *res, int row, int column);
unsigned int jx_pq_ftype(const struct pg_result *res, int column);
/* The affected row count of an INSERT/UPDATE/DELETE ("" otherwise). */
const char *jx_pq_cmd_tuples(struct pg_result *res);
void jx_pq_clear(struct pg_result *res);

/* The next NOTIFY received so far: 1 and the channel and payload copied (truncated to fit), or 0. */
int jx_pq_next_notify(struct pg_conn *conn, char *channel, size_t channel_len, char *payload, size_t payload_len);

#endif
