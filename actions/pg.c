/* SPDX-License-Identifier: MIT */
/* The `postgres` driver: fence a primary, promote a replica, check a primary,
 * through lib/pg.h (libpq's asynchronous API on the loop; one connection per
 * round trip).
 *
 * The epoch record is a one-row table (default `baton_epoch(epoch bigint, region
 * text, at timestamptz)`). Every attempt first PROBES the server on a fresh
 * connection: role (pg_is_in_recovery), read-only settings, replication state
 * and the stored epoch. A stored epoch higher than ours -> BATON_ACTION_ESTALE,
 * before anything is changed. Writing our epoch is one conditional statement
 * (UPDATE ... WHERE epoch <= ours, or INSERT into an empty table), so two
 * leaders racing cannot lower it: zero rows written -> ESTALE.
 *
 * fence (primary):
 *   probe -> record the epoch (first, so the fenced server carries the new epoch
 *   and a stale leader's later promote/unfence of it is refused; the session
 *   overrides default_transaction_read_only so a retry on an already fenced
 *   server still writes it) -> ALTER SYSTEM SET default_transaction_read_only =
 *   on, pg_reload_conf(), terminate client backends -> CONFIRM on a fresh
 *   connection that a write fails with 25006; the reload is asynchronous, so
 *   retry with back-off until the deadline -> terminate client backends again.
 *   Why the second sweep closes the race: our confirming backend saw the new
 *   setting, and backends only get it from the postmaster's SIGHUP, so the
 *   postmaster had reloaded by then and every backend forked later starts
 *   read-only; any older one is killed by the sweep that follows.
 *   Limit: this fences well-behaved clients. A session can still `SET
 *   default_transaction_read_only = off`; the lease wait is the other half.
 * fence (standby): nothing can write there now; set the same setting so a
 *   later promotion of it stays read-only, confirm it took effect. The epoch
 *   cannot be stored (read-only).
 * promote: probe -> standby: pg_promote(true, <seconds from the deadline>);
 *   on false, an error or a timeout, probe again (libpq 15 cannot cancel: the
 *   promotion may still complete) and fail only if it is still in recovery.
 *   Already primary: success (idempotent). Then record the epoch, ALTER SYSTEM
 *   RESET default_transaction_read_only + reload (in case it was fenced), and
 *   confirm with retries that a write is accepted.
 * check_primary: probe; ok if primary and read-write.
 * drill (any op): the probe only; the report says what a real attempt would do.
 *
 * Failure modes: unreachable / connection lost / deadline -> -errno, retryable
 * (for fence the executor decides whether the lease wait already covers an
 * unreachable old primary); SQL errors -> EFAILED with SQLSTATE and the server's
 * message, retryable for classes 08, 40, 53, 57; a host name is resolved with
 * uv_getaddrinfo (IPv4) and passed as hostaddr. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "driver.h"

#define PG_MAX_KEYS 48
#define PG_SQL_LEN 1024

static const struct action_key pg_keys[] = {
	{"op", true},
	{"conninfo", true},
	{"epoch_table", false},
	{NULL, false},
};

enum pg_kind { PG_FENCE, PG_PROMOTE, PG_CHECK };
static const char *const pg_kind_names[] = {"fence", "promote", "check_primary"};

struct pg_probe {
	bool in_recovery;
	bool read_only;         /* transaction_read_only of a fresh session */
	bool default_read_only; /* default_transaction_read_only */
	bool table;             /* the epoch table exists */
	bool has_epoch;
	uint64_t epoch;
	char region[64];
	char streaming[24];     /* primary: replicas streaming */
	char lag[32];           /* primary: max replay lag in bytes; standby: receive - replay */
	char delay[32];         /* standby: seconds since the last replayed transaction */
};

struct pg_attempt {
	struct baton_action_op op;
	enum pg_kind kind;
	char table[128];
	PQconninfoOption *opts;
	const char *keys[PG_MAX_KEYS + 1], *values[PG_MAX_KEYS + 1];
	int nkeys;
	const char *host;       /* a name to resolve, or NULL */
	char hostaddr[INET_ADDRSTRLEN];
	uv_getaddrinfo_t gai;
	bool gai_busy;
	struct pg_probe probe;
	bool probe_table;       /* next probe reads the epoch table */
	action_step_fn after_probe;
	unsigned tries;
	unsigned backoff_ms;
	unsigned promote_wait_s;
	uint64_t t0;
	char region_lit[2 * BATON_ACTION_VALUE_LEN + 3];
	char sql[4][PG_SQL_LEN];
	const char *stmts[8];
	char terminated[24];
	char phase[160];        /* op.phase while confirming: what the last try saw */
};

/* --- parameters -------------------------------------------------------------------------- */

static bool pg_ident_ok(const char *s)
{
	size_t part = 0;
	int dots = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (part == 0 || ++dots > 1)
				return false;
			part = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || *s == '_' || (part > 0 && *s >= '0' && *s <= '9')))
			return false;
		if (++part > 63)
			return false;
	}
	return part > 0;
}

static bool pg_is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* conninfo -> keys/values (a->opts owns the strings). Adds gssencmode=disable (GSSAPI
 * would read Kerberos files and may contact a KDC) and application_name=baton unless
 * given. Leaves a->host set when the host is a name to resolve. */
static int pg_parse_conninfo(struct pg_attempt *a, const char *conninfo, char *err, size_t len)
{
	char *perr = NULL;
	const char *host = NULL, *hostaddr = NULL;
	bool gss = false, app = false;

	a->opts = PQconninfoParse(conninfo, &perr);
	if (a->opts == NULL) {
		char msg[160];

		action_excerpt(msg, sizeof(msg), perr != NULL ? perr : "out of memory", SIZE_MAX);
		(void)snprintf(err, len, "postgres: conninfo: %s", msg);
		PQfreemem(perr);
		return -EINVAL;
	}
	a->nkeys = 0;
	for (PQconninfoOption *o = a->opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (a->nkeys >= PG_MAX_KEYS - 3) {
			(void)snprintf(err, len, "postgres: conninfo has too many keys");
			return -EINVAL;
		}
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "gssencmode") == 0)
			gss = true;
		else if (strcmp(o->keyword, "application_name") == 0)
			app = true;
		a->keys[a->nkeys] = o->keyword;
		a->values[a->nkeys++] = o->val;
	}
	if (!gss) {
		a->keys[a->nkeys] = "gssencmode";
		a->values[a->nkeys++] = "disable";
	}
	if (!app) {
		a->keys[a->nkeys] = "application_name";
		a->values[a->nkeys++] = "baton";
	}
	a->keys[a->nkeys] = NULL;
	a->values[a->nkeys] = NULL;
	a->host = NULL;
	if (hostaddr == NULL && host != NULL && !pg_is_ipv4(host)) {
		if (strchr(host, ',') != NULL || host[0] == '/') {
			(void)snprintf(err, len,
				       "postgres: conninfo host '%s': only one host name, or numeric "
				       "addresses, are supported (no Unix sockets)",
				       host);
			return -EINVAL;
		}
		a->host = host;
	}
	return 0;
}

/* The conninfo as baton_pg_query() will see it; a host name gets a placeholder
 * address (it is resolved at start). */
static int pg_check_conninfo(struct pg_attempt *a, char *err, size_t len)
{
	char msg[200];
	int rv;

	if (a->host != NULL) {
		a->keys[a->nkeys] = "hostaddr";
		a->values[a->nkeys] = a->hostaddr[0] != '\0' ? a->hostaddr : "127.0.0.1";
		a->keys[a->nkeys + 1] = NULL;
		a->values[a->nkeys + 1] = NULL;
	}
	rv = baton_pg_conninfo_check(a->keys, a->values, msg, sizeof(msg));
	if (a->host != NULL && a->hostaddr[0] == '\0') {
		a->keys[a->nkeys] = NULL;
		a->values[a->nkeys] = NULL;
	}
	if (rv != 0)
		(void)snprintf(err, len, "postgres: %s", msg);
	return rv;
}

static int pg_check(struct pg_attempt *a, const struct baton_action_params *p, bool expanded,
		    char *err, size_t len)
{
	const char *op, *conninfo, *table;
	int rv;

	rv = action_check_keys("postgres", p, pg_keys, err, len);
	if (rv != 0)
		return rv;
	op = baton_action_param(p, "op");
	if (expanded || !action_templated(op)) {
		bool known = false;

		for (int k = 0; k < 3; k++) {
			if (strcmp(op, pg_kind_names[k]) == 0) {
				a->kind = (enum pg_kind)k;
				known = true;
			}
		}
		if (!known) {
			(void)snprintf(err, len,
				       "postgres: op '%s' is not fence, promote or check_primary", op);
			return -EINVAL;
		}
	}
	table = action_param_or(p, "epoch_table", "baton_epoch");
	if ((expanded || !action_templated(table)) && !pg_ident_ok(table)) {
		(void)snprintf(err, len,
			       "postgres: epoch_table '%s' is not a lowercase [schema.]name", table);
		return -EINVAL;
	}
	(void)snprintf(a->table, sizeof(a->table), "%s", table);
	conninfo = baton_action_param(p, "conninfo");
	if (!expanded && action_templated(conninfo))
		return 0;
	rv = pg_parse_conninfo(a, conninfo, err, len);
	if (rv != 0)
		return rv;
	return pg_check_conninfo(a, err, len);
}

static int pg_validate(const struct baton_action_params *p, char *err, size_t len)
{
	struct pg_attempt a;
	int rv;

	memset(&a, 0, sizeof(a));
	rv = pg_check(&a, p, false, err, len);
	PQconninfoFree(a.opts);
	return rv;
}

/* --- helpers ---------------------------------------------------------------------------- */

static bool pg_sqlstate_retryable(const char *state)
{
	/* connection exception, transaction rollback, insufficient resources,
	 * operator intervention (e.g. 57P03 cannot connect now, 57P01 our
	 * session ended by a concurrent fence's sweep), and the first-use race:
	 * two fences of one server at once (the leader's and the region's own
	 * self-fence) both run CREATE TABLE IF NOT EXISTS of the epoch table,
	 * which is not safe against itself; the loser gets 23505 (unique
	 * violation in pg_type), 42710 (type "baton_epoch" already exists; seen
	 * in CI) or 42P07 (relation already exists). The retry finds the table. */
	return state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "40", 2) == 0 ||
				 strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
				 strcmp(state, "23505") == 0 || strcmp(state, "42710") == 0 ||
				 strcmp(state, "42P07") == 0);
}

static void pg_fail(struct pg_attempt *a, const char *what, const struct baton_pg_result *r)
{
	struct baton_action_op *op = &a->op;
	const char *where = strncmp(op->target, "postgres ", 9) == 0 ? op->target + 9 : "";
	const char *text = r->errmsg;
	size_t wlen = strlen(where);
	char msg[200];

	/* lib/pg prefixes its own messages with "addr:port: "; ours already names it */
	if (text != NULL && wlen > 0 && strncmp(text, where, wlen) == 0 &&
	    strncmp(text + wlen, ": ", 2) == 0)
		text += wlen + 2;
	action_excerpt(msg, sizeof(msg), text, SIZE_MAX);
	if (r->err != 0) {
		action_fail(op, r->err, r->err != -EINVAL && r->err != -EPROTO, "%s: %s: %s%s%s",
			    op->target, what, msg, r->sqlstate != NULL ? " SQLSTATE " : "",
			    r->sqlstate != NULL ? r->sqlstate : "");
		return;
	}
	action_fail(op, BATON_ACTION_EFAILED, pg_sqlstate_retryable(r->sqlstate),
		    "%s: %s: SQLSTATE %s: %s", op->target, what,
		    r->sqlstate != NULL ? r->sqlstate : "?????", msg);
}

static bool pg_bool(const char *v)
{
	return v != NULL && (strcmp(v, "t") == 0 || strcmp(v, "on") == 0);
}

/* A SQL string literal with standard_conforming_strings on: quotes doubled. */
static void pg_literal(char *dst, size_t n, const char *src)
{
	size_t o = 0;

	dst[o++] = '\'';
	for (; *src != '\0' && o + 3 < n; src++) {
		if (*src == '\'')
			dst[o++] = '\'';
		dst[o++] = *src;
	}
	dst[o++] = '\'';
	dst[o] = '\0';
}

static void pg_describe(const struct pg_probe *p, char *dst, size_t n)
{
	size_t o;

	if (p->in_recovery)
		o = (size_t)snprintf(dst, n, "standby (in recovery), receive-replay lag %s B, "
					     "last replay %s s ago",
				     p->lag[0] ? p->lag : "?", p->delay[0] ? p->delay : "?");
	else
		o = (size_t)snprintf(dst, n, "primary, %s, %s replicas streaming (max lag %s B)",
				     p->read_only ? "read-only" : "read-write",
				     p->streaming[0] ? p->streaming : "?", p->lag[0] ? p->lag : "?");
	if (o >= n)
		return;
	if (p->has_epoch)
		(void)snprintf(dst + o, n - o, ", epoch %" PRIu64 " (region '%s')", p->epoch,
			       p->region);
	else
		(void)snprintf(dst + o, n - o, ", no epoch recorded");
}

/* --- probe -------------------------------------------------------------------------------- */

static void pg_probe_start(struct pg_attempt *a, action_step_fn next);

static void pg_probe_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	struct pg_probe *p = &a->probe;
	const char *v;

	if (r->err == 0 && r->sql_error && a->probe_table && r->sqlstate != NULL &&
	    strcmp(r->sqlstate, "42P01") == 0) {
		/* no epoch table (yet): probe again without it */
		a->probe_table = false;
		pg_probe_start(a, a->after_probe);
		return;
	}
	if (r->err != 0 || r->sql_error || r->ntuples != 1) {
		pg_fail(a, "cannot read the server's state", r);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->table = a->probe_table;
	p->in_recovery = pg_bool(baton_pg_value(r, 0, 0));
	p->read_only = pg_bool(baton_pg_value(r, 0, 1));
	p->default_read_only = pg_bool(baton_pg_value(r, 0, 2));
	v = baton_pg_value(r, 0, 3);
	(void)snprintf(p->streaming, sizeof(p->streaming), "%s", v != NULL ? v : "");
	v = baton_pg_value(r, 0, p->in_recovery ? 5 : 4);
	(void)snprintf(p->lag, sizeof(p->lag), "%s", v != NULL ? v : "");
	v = baton_pg_value(r, 0, 6);
	(void)snprintf(p->delay, sizeof(p->delay), "%s", v != NULL ? v : "");
	v = baton_pg_value(r, 0, 7);
	if (v != NULL) {
		p->has_epoch = true;
		p->epoch = strtoull(v, NULL, 10);
		v = baton_pg_value(r, 0, 8);
		(void)snprintf(p->region, sizeof(p->region), "%s", v != NULL ? v : "");
	}
	if (p->has_epoch && p->epoch > op->ctx.epoch) {
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: refusing%s to %s: the database already carries epoch %" PRIu64
			    " > %llu (region '%s')",
			    op->target, op->ctx.drill ? " (drill)" : "", pg_kind_names[a->kind],
			    p->epoch, (unsigned long long)op->ctx.epoch, p->region);
		return;
	}
	a->after_probe(op);
}

static void pg_probe_start(struct pg_attempt *a, action_step_fn next)
{
	char *sql = a->sql[0];
	const char *tail;
	char from[256];

	if (a->probe_table) {
		(void)snprintf(from, sizeof(from),
			       "e.epoch, e.region FROM (SELECT 1) AS one LEFT JOIN (SELECT epoch, "
			       "region FROM %s ORDER BY epoch DESC LIMIT 1) AS e ON true",
			       a->table);
		tail = from;
	} else {
		tail = "NULL::bigint, NULL::text";
	}
	(void)snprintf(sql, PG_SQL_LEN,
		       "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'), "
		       "current_setting('default_transaction_read_only'), "
		       "CASE WHEN pg_is_in_recovery() THEN NULL ELSE (SELECT count(*) FROM "
		       "pg_stat_replication WHERE state = 'streaming') END, "
		       "CASE WHEN pg_is_in_recovery() THEN NULL ELSE (SELECT max(pg_wal_lsn_diff("
		       "pg_current_wal_lsn(), replay_lsn)) FROM pg_stat_replication) END, "
		       "CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), "
		       "pg_last_wal_replay_lsn()) END, "
		       "CASE WHEN pg_is_in_recovery() THEN round(extract(epoch FROM now() - "
		       "pg_last_xact_replay_timestamp())::numeric, 3) END, %s",
		       tail);
	a->after_probe = next;
	action_pg_query(&a->op, a->keys, a->values, sql, NULL, 0, pg_probe_cb);
}

/* --- recording the epoch --------------------------------------------------------------------- */

static void pg_record_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	const char *n, *cur;

	if (r->err != 0 || r->sql_error) {
		pg_fail(a, "storing the epoch", r);
		return;
	}
	n = baton_pg_value(r, 0, 0);
	cur = baton_pg_value(r, 0, 1);
	if (n == NULL || strcmp(n, "0") == 0) {
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: refusing to %s: a higher epoch than %llu was stored concurrently "
			    "(table holds %s)",
			    op->target, pg_kind_names[a->kind], (unsigned long long)op->ctx.epoch,
			    cur != NULL ? cur : "?");
		return;
	}
	action_outf(op, "epoch %llu stored (was %s); ", (unsigned long long)op->ctx.epoch,
		    cur != NULL ? cur : "none");
	a->after_probe(op);
}

/* Write ctx->epoch where it is not lower than what is there. The session
 * overrides default_transaction_read_only: a fence retried on an already fenced
 * server must still store it. */
static void pg_record_epoch(struct pg_attempt *a, action_step_fn next)
{
	struct baton_action_op *op = &a->op;
	unsigned long long e = (unsigned long long)op->ctx.epoch;
	int n = 0;

	pg_literal(a->region_lit, sizeof(a->region_lit), op->ctx.to);
	a->stmts[n++] = "SET default_transaction_read_only = off";
	a->stmts[n++] = "SET standard_conforming_strings = on";
	if (!a->probe.table) {
		(void)snprintf(a->sql[1], PG_SQL_LEN,
			       "CREATE TABLE IF NOT EXISTS %s (epoch bigint NOT NULL, region text "
			       "NOT NULL, at timestamptz NOT NULL DEFAULT now())",
			       a->table);
		a->stmts[n++] = a->sql[1];
	}
	(void)snprintf(a->sql[2], PG_SQL_LEN,
		       "WITH cur AS (SELECT max(epoch) AS e FROM %s), "
		       "u AS (UPDATE %s SET epoch = %llu, region = %s, at = now() "
		       "WHERE epoch <= %llu RETURNING 1), "
		       "i AS (INSERT INTO %s (epoch, region, at) SELECT %llu, %s, now() "
		       "WHERE NOT EXISTS (SELECT 1 FROM %s) RETURNING 1) "
		       "SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i), (SELECT e FROM cur)",
		       a->table, a->table, e, a->region_lit, e, a->table, e, a->region_lit, a->table);
	a->stmts[n++] = a->sql[2];
	a->stmts[n] = NULL;
	a->after_probe = next;
	op->phase = "storing the epoch";
	action_pg_script(op, a->keys, a->values, a->stmts, 0, pg_record_cb);
}

/* --- fence ---------------------------------------------------------------------------------- */

static void pg_fence_confirm(struct baton_action_op *op);

static void pg_backoff(struct pg_attempt *a, action_step_fn fn)
{
	a->backoff_ms = a->backoff_ms == 0 ? 20 : (a->backoff_ms * 2 > 200 ? 200 : a->backoff_ms * 2);
	action_wake_after(&a->op, a->backoff_ms, fn);
}

static void pg_fence_sweep_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	const char *n = baton_pg_value(r, 0, 0);

	if (r->err != 0 || r->sql_error) {
		pg_fail(a, "terminating sessions after the fence", r);
		return;
	}
	action_done(op,
		    "fenced: default_transaction_read_only=on, a new session's write is refused "
		    "(25006, after %u tries in %llu ms), %s+%s client sessions terminated",
		    a->tries, (unsigned long long)(uv_now(op->loop) - a->t0), a->terminated,
		    n != NULL ? n : "?");
}

#define PG_SWEEP_SQL                                                                        \
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "                    \
	"WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"

static void pg_fence_confirm_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (r->err != 0) {
		pg_fail(a, "confirming the fence", r);
		return;
	}
	if (a->probe.in_recovery) {
		if (r->sql_error) {
			pg_fail(a, "confirming the fence", r);
			return;
		}
		if (pg_bool(baton_pg_value(r, 0, 0))) {
			action_done(op,
				    "standby (in recovery): read-only now; default_transaction_"
				    "read_only=on confirmed for after a promotion; epoch not stored "
				    "(read-only)");
			return;
		}
		pg_backoff(a, pg_fence_confirm);
		return;
	}
	if (r->sql_error && r->sqlstate != NULL && strcmp(r->sqlstate, "25006") == 0) {
		op->phase = "terminating sessions after the fence";
		action_pg_query(op, a->keys, a->values, PG_SWEEP_SQL, NULL, 0, pg_fence_sweep_cb);
		return;
	}
	if (r->sql_error) {
		pg_fail(a, "confirming the fence (expected SQLSTATE 25006)", r);
		return;
	}
	/* the write went through: reload not applied yet */
	(void)snprintf(a->phase, sizeof(a->phase),
		       "confirming the fence: a new session could still write after %u tries",
		       a->tries);
	op->phase = a->phase;
	pg_backoff(a, pg_fence_confirm);
}

static void pg_fence_confirm(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	a->tries++;
	if (a->tries == 1)
		op->phase = "confirming that a new session cannot write";
	if (a->probe.in_recovery) {
		action_pg_query(op, a->keys, a->values,
				"SELECT current_setting('default_transaction_read_only')", NULL, 0,
				pg_fence_confirm_cb);
		return;
	}
	/* a write that changes nothing; refused with 25006 once read-only */
	(void)snprintf(a->sql[3], PG_SQL_LEN, "UPDATE %s SET epoch = epoch WHERE false", a->table);
	action_pg_query(op, a->keys, a->values, a->sql[3], NULL, 0, pg_fence_confirm_cb);
}

static void pg_fence_set_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	const char *n;

	if (r->err != 0 || r->sql_error) {
		pg_fail(a, "setting default_transaction_read_only", r);
		return;
	}
	n = a->probe.in_recovery ? "0" : baton_pg_value(r, 0, 0);
	(void)snprintf(a->terminated, sizeof(a->terminated), "%s", n != NULL ? n : "?");
	a->t0 = uv_now(op->loop);
	pg_fence_confirm(op);
}

static void pg_fence_set(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	int n = 0;

	a->stmts[n++] = "ALTER SYSTEM SET default_transaction_read_only = on";
	a->stmts[n++] = "SELECT pg_reload_conf()";
	if (!a->probe.in_recovery)
		a->stmts[n++] = PG_SWEEP_SQL;
	a->stmts[n] = NULL;
	op->phase = "setting default_transaction_read_only";
	action_pg_script(op, a->keys, a->values, a->stmts, 0, pg_fence_set_cb);
}

static void pg_fence_probed(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (a->probe.in_recovery)
		pg_fence_set(op);
	else
		pg_record_epoch(a, pg_fence_set);
}

/* --- promote -------------------------------------------------------------------------------- */

static void pg_promote_confirm(struct baton_action_op *op);

static void pg_promote_confirm_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (r->err != 0) {
		pg_fail(a, "confirming that it accepts writes", r);
		return;
	}
	if (!r->sql_error) {
		action_done(op, "writable (a new session's write accepted after %u tries)",
			    a->tries);
		return;
	}
	if (r->sqlstate != NULL && strcmp(r->sqlstate, "25006") == 0) {
		/* reload not applied yet, or read-only set elsewhere (ALTER DATABASE/ROLE,
		 * postgresql.conf): retried until the deadline */
		(void)snprintf(a->phase, sizeof(a->phase),
			       "confirming that a new session can write: still 25006 after %u "
			       "tries",
			       a->tries);
		op->phase = a->phase;
		pg_backoff(a, pg_promote_confirm);
		return;
	}
	pg_fail(a, "confirming that it accepts writes", r);
}

static void pg_promote_confirm(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	a->tries++;
	if (a->tries == 1)
		op->phase = "confirming that a new session can write";
	(void)snprintf(a->sql[3], PG_SQL_LEN, "UPDATE %s SET epoch = epoch WHERE false", a->table);
	action_pg_query(op, a->keys, a->values, a->sql[3], NULL, 0, pg_promote_confirm_cb);
}

static void pg_unfence_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (r->err != 0 || r->sql_error) {
		pg_fail(a, "resetting default_transaction_read_only", r);
		return;
	}
	pg_promote_confirm(op);
}

static void pg_unfence(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	a->stmts[0] = "ALTER SYSTEM RESET default_transaction_read_only";
	a->stmts[1] = "SELECT pg_reload_conf()";
	a->stmts[2] = NULL;
	op->phase = "resetting default_transaction_read_only";
	action_pg_script(op, a->keys, a->values, a->stmts, 0, pg_unfence_cb);
}

static void pg_promoted(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (a->probe.in_recovery) {
		action_fail(op, BATON_ACTION_EFAILED, true,
			    "%s: pg_promote() did not finish within %u s: still in recovery",
			    op->target, a->promote_wait_s);
		return;
	}
	pg_record_epoch(a, pg_unfence);
}

static void pg_promote_cb(struct baton_action_op *op, const struct baton_pg_result *r)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	char msg[120];

	if (r->err == 0 && !r->sql_error && pg_bool(baton_pg_value(r, 0, 0))) {
		action_outf(op, "promoted in %.1f s; ",
			    (double)(uv_now(op->loop) - a->t0) / 1000.0);
		a->probe.in_recovery = false;
		pg_record_epoch(a, pg_unfence);
		return;
	}
	if (r->err != 0 && r->err != -ETIMEDOUT && r->err != -EIO) {
		pg_fail(a, "pg_promote()", r);
		return;
	}
	/* false (not done in time), an error (e.g. 55000: promoted meanwhile), a timeout
	 * or a dropped connection: it may have completed anyway. Look again. */
	action_excerpt(msg, sizeof(msg), r->err != 0 || r->sql_error ? r->errmsg : "returned false",
		       SIZE_MAX);
	action_outf(op, "pg_promote(): %s; ", msg);
	op->phase = "checking whether the promotion completed";
	a->probe_table = true;
	pg_probe_start(a, pg_promoted);
}

static void pg_promote_probed(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	unsigned left = action_remaining_ms(op), reserve, qt;
	char w[16];
	const char *params[2];

	if (!a->probe.in_recovery) {
		action_outf(op, "already primary; ");
		pg_record_epoch(a, pg_unfence);
		return;
	}
	/* leave time to look again after a timeout */
	reserve = left / 4 < 1500 ? left / 4 : 1500;
	qt = left - reserve;
	a->promote_wait_s = qt > 1500 ? (qt - 500) / 1000 : 1;
	(void)snprintf(w, sizeof(w), "%u", a->promote_wait_s);
	params[0] = w;
	params[1] = NULL;
	a->t0 = uv_now(op->loop);
	op->phase = "waiting for pg_promote()";
	action_pg_query(op, a->keys, a->values, "SELECT pg_promote(true, $1::int)", params, qt,
			pg_promote_cb);
}

/* --- check_primary and drill ------------------------------------------------------------------ */

static void pg_check_probed(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	char state[400];

	pg_describe(&a->probe, state, sizeof(state));
	if (a->probe.in_recovery || a->probe.read_only) {
		action_fail(op, BATON_ACTION_EFAILED, true, "%s: not a writable primary: %s",
			    op->target, state);
		return;
	}
	action_done(op, "%s", state);
}

static void pg_drill_probed(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;
	char state[400];

	pg_describe(&a->probe, state, sizeof(state));
	action_done(op, "drill: would %s; nothing changed; %s", pg_kind_names[a->kind], state);
}

/* --- start ------------------------------------------------------------------------------------ */

static void pg_begin(struct pg_attempt *a)
{
	static const action_step_fn next[] = {
		[PG_FENCE] = pg_fence_probed,
		[PG_PROMOTE] = pg_promote_probed,
		[PG_CHECK] = pg_check_probed,
	};

	a->op.phase = "reading the server's state";
	a->probe_table = true;
	/* check_primary only reads: a drill runs it as it is */
	pg_probe_start(a, a->op.ctx.drill && a->kind != PG_CHECK ? pg_drill_probed : next[a->kind]);
}

static void pg_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pg_attempt *a = req->data;
	struct baton_action_op *op = &a->op;

	a->gai_busy = false;
	if (status == 0 && res != NULL && res->ai_family == AF_INET)
		(void)inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
				a->hostaddr, sizeof(a->hostaddr));
	uv_freeaddrinfo(res);
	if (!action_release(op))
		return;
	if (status != 0 || a->hostaddr[0] == '\0') {
		action_fail(op, status != 0 ? status : -EHOSTUNREACH, true,
			    "%s: cannot resolve '%s': %s", op->target, a->host,
			    status != 0 ? uv_strerror(status) : "no IPv4 address");
		return;
	}
	a->keys[a->nkeys] = "hostaddr";
	a->values[a->nkeys++] = a->hostaddr;
	a->keys[a->nkeys] = NULL;
	a->values[a->nkeys] = NULL;
	pg_begin(a);
}

static void pg_abort(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	if (a->gai_busy)
		(void)uv_cancel((uv_req_t *)&a->gai); /* the callback still comes */
}

static void pg_cleanup(struct baton_action_op *op)
{
	struct pg_attempt *a = (struct pg_attempt *)op;

	PQconninfoFree(a->opts);
}

/* "postgres 127.0.0.1:5433" from the parsed conninfo. */
static void pg_target(struct pg_attempt *a)
{
	const char *host = NULL, *port = "5432";

	for (int i = 0; i < a->nkeys; i++) {
		if (strcmp(a->keys[i], "host") == 0 ||
		    (host == NULL && strcmp(a->keys[i], "hostaddr") == 0))
			host = a->values[i];
		else if (strcmp(a->keys[i], "port") == 0)
			port = a->values[i];
	}
	(void)snprintf(a->op.target, sizeof(a->op.target), "postgres %s:%s",
		       host != NULL ? host : "?", port);
}

static int pg_start(const struct baton_action_env *env, const struct baton_action_params *p,
		    const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		    struct baton_action_op **ret_op)
{
	struct pg_attempt *a;
	struct baton_action_op *op;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	char err[256];
	int rv;

	op = action_op_new(sizeof(*a), &baton_action_driver_postgres, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct pg_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	op->abort_fn = pg_abort;
	op->cleanup_fn = pg_cleanup;
	if (pg_check(a, &op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	pg_target(a);
	if (a->host == NULL) {
		pg_begin(a);
		return 0;
	}
	op->phase = "resolving the host name";
	a->gai.data = a;
	rv = uv_getaddrinfo(op->loop, &a->gai, pg_gai_cb, a->host, NULL, &hints);
	if (rv != 0) {
		action_fail(op, rv, true, "%s: cannot resolve '%s': %s", op->target, a->host,
			    uv_strerror(rv));
		return 0;
	}
	a->gai_busy = true;
	action_hold(op);
	return 0;
}

const struct baton_action_driver baton_action_driver_postgres = {
	.name = "postgres",
	.idempotent = true,
	.validate = pg_validate,
	.start = pg_start,
	.cancel = action_cancel,
};
