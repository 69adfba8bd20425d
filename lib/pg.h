/* SPDX-License-Identifier: MIT */
/* Non-blocking PostgreSQL client on a libuv loop (libpq's asynchronous API).
 *
 * One operation = one connection: connect -> run each statement in order -> close.
 * Nothing here blocks the loop: the connection is made with PQconnectStartParams
 * and a numeric `hostaddr` (no name lookup), driven by uv_poll, and every
 * operation has one deadline for the whole round. libpq 15 has no non-blocking
 * cancel, so a timeout or baton_pg_cancel() drops the connection instead; a
 * statement that was already sent may still run to completion on the server.
 *
 * Loop thread only. Library code: never logs, reports errors in the result. */
#ifndef BATON_PG_H
#define BATON_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct pg_result;		/* libpq's PGresult */
struct baton_pg_op;

#define BATON_PG_MAX_STMTS 64	/* statements per baton_pg_script() */
#define BATON_PG_MAX_PARAMS 64	/* text parameters per statement */
#define BATON_PG_ERRMSG_LEN 512

/* What one operation ended with. Valid only while the callback runs. */
struct baton_pg_result {
	/* Transport outcome:
	 *   0              every statement was sent and answered (see sql_error);
	 *   -EINVAL        bad conninfo (e.g. host is not a numeric IPv4 address);
	 *   -ECONNREFUSED  could not connect or log in (refused, auth, no such db);
	 *   -ETIMEDOUT     the deadline passed (connection dropped, not cancelled);
	 *   -EIO           the connection broke, libpq failed, or the server ended
	 *                  the session mid-statement (FATAL; sqlstate says why,
	 *                  e.g. 57P01 terminated, 57P02 crash shutdown);
	 *   -EPROTO        the statement answered with COPY, which is unsupported;
	 *   -ECANCELED     baton_pg_cancel() was called;
	 *   -ENOMEM        out of memory after the operation was started. */
	int err;
	/* err == 0 but the server rejected statement @stmt (errmsg, sqlstate set). */
	bool sql_error;
	/* Index of the statement that failed, or of the last one run; -1 if the
	 * failure happened before any statement was sent (connect, deadline...). */
	int stmt;
	const char *errmsg;	/* "" on success; else libpq's or the server's text */
	const char *sqlstate;	/* the server's five-char SQLSTATE, or NULL */
	int ntuples, nfields;	/* shape of the last statement's result, 0 if none */
	const struct pg_result *res; /* the last statement's PGresult (or NULL);
				      * borrowed: cleared after the callback */
};

/* Field @col of row @row of the last result as text. NULL if SQL NULL, if there
 * is no result, or if @row/@col is out of range. Borrowed like r->res. */
const char *baton_pg_value(const struct baton_pg_result *r, int row, int col);

/* Called exactly once per started operation, always from the loop and never
 * from inside baton_pg_query/baton_pg_script/baton_pg_cancel. The op is freed
 * once it returns. */
typedef void (*baton_pg_cb)(void *data, const struct baton_pg_result *r);

/**
 * Connect and run one statement @sql with the NULL-terminated text @params
 * (NULL = none; $1, $2...; a NULL entry cannot be passed, so SQL NULL is not
 * expressible). @keys/@values are NULL-terminated arrays handed to
 * PQconnectStartParams (expand_dbname off): port, user, dbname, password,
 * sslmode, application_name, target_session_attrs... `hostaddr` (or, if absent,
 * `host`) must be a numeric IPv4 address or a comma-separated list of them (libpq
 * tries each in turn); anything else fails with -EINVAL. libpq's own
 * `connect_timeout` is not enforced in asynchronous mode: @timeout_ms (> 0)
 * bounds the whole operation, connect included.
 *
 * Returns 0, sets *@ret_op (if not NULL) and calls @cb exactly once later; or
 * returns -EINVAL (NULL argument, timeout 0, too many params) / -ENOMEM / a
 * libuv error and never calls @cb. Every input is copied: the caller may free
 * them on return. *@ret_op stays valid until @cb has been called.
 */
int baton_pg_query(uv_loop_t *loop, const char *const *keys, const char *const *values,
		   const char *sql, const char *const *params, unsigned timeout_ms,
		   baton_pg_cb cb, void *data, struct baton_pg_op **ret_op);

/**
 * Like baton_pg_query() for a NULL-terminated list of parameterless @stmts
 * (at most BATON_PG_MAX_STMTS), each sent on its own (extended protocol, one
 * implicit transaction each, so ALTER SYSTEM works). Stops at the first SQL
 * error: the result has sql_error, stmt = its index, errmsg and sqlstate. On
 * success res/ntuples/nfields describe the last statement.
 */
int baton_pg_script(uv_loop_t *loop, const char *const *keys, const char *const *values,
		    const char *const *stmts, unsigned timeout_ms, baton_pg_cb cb, void *data,
		    struct baton_pg_op **ret_op);

/* Drop the connection; the callback fires later with -ECANCELED. Does nothing
 * if the operation is already finishing (its callback will still fire once). */
void baton_pg_cancel(struct baton_pg_op *op);

/* Check @keys/@values as baton_pg_query() will (for config loading). Returns 0,
 * or -EINVAL with a message naming the key and value in @errmsg. */
int baton_pg_conninfo_check(const char *const *keys, const char *const *values, char *errmsg,
			    size_t errmsg_len);

#endif
