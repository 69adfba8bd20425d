/* SPDX-License-Identifier: MIT */
/* lib/pg: libpq on the libuv loop, against a real PostgreSQL 15 where one is given.
 *
 * Cases that need no server (bad conninfo, refused, a listener that never answers)
 * always run. The rest need BATON_TEST_PG_PRIMARY and BATON_TEST_PG_REPLICA (ports on
 * 127.0.0.1, user `baton`, trusted; tests/integration/run_pg_tests.py sets them up with
 * tests/lib/pgcluster.py) and skip without them. They change the cluster (fence,
 * promote), so they assume a fresh one and run in this order. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "lib/pg.h"

/* --- fixture ------------------------------------------------------------------------- */

struct outcome {
	int calls;
	bool sync_call; /* the callback ran from inside the call that started/cancelled */
	int err;
	bool sql_error;
	int stmt;
	int ntuples, nfields;
	char errmsg[BATON_PG_ERRMSG_LEN];
	char sqlstate[6];
	char value[64]; /* row 0 col 0, "(null)" if NULL */
	uint64_t at_ms; /* when the callback ran, from start */
};

/* A 10 ms repeating timer that records the longest gap between its ticks. */
struct ticker {
	uv_timer_t timer;
	uint64_t last_ms, max_gap_ms;
};

/* Handles live in the fixture, not on a test's stack: their close callbacks run in
 * teardown, after the test function has returned. */
struct fixture {
	uv_loop_t loop;
	struct ticker ticker;
	uv_timer_t cancel_timer;
	const char *primary, *replica; /* ports, or NULL */
	bool in_call;                  /* inside baton_pg_query/script/cancel */
	uint64_t start_ms;
	struct outcome out;
};

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->primary = getenv("BATON_TEST_PG_PRIMARY");
	f->replica = getenv("BATON_TEST_PG_REPLICA");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	(void)uv_run(&f->loop, UV_RUN_NOWAIT); /* close callbacks of the tests' own handles */
	/* an open handle here is a leak: fail, do not paper over it with uv_walk */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	test_free(f);
	return 0;
}

/* --- helpers ------------------------------------------------------------------------- */

static void need_server(struct fixture *f)
{
	if (f->primary == NULL || f->replica == NULL) {
		print_message("BATON_TEST_PG_PRIMARY/REPLICA unset: skipping\n");
		skip();
	}
}

static void record_cb(void *data, const struct baton_pg_result *r)
{
	struct fixture *f = data;
	struct outcome *o = &f->out;
	const char *v = baton_pg_value(r, 0, 0);

	o->calls++;
	o->sync_call = o->sync_call || f->in_call;
	o->err = r->err;
	o->sql_error = r->sql_error;
	o->stmt = r->stmt;
	o->ntuples = r->ntuples;
	o->nfields = r->nfields;
	(void)snprintf(o->errmsg, sizeof(o->errmsg), "%s", r->errmsg);
	(void)snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", r->sqlstate ? r->sqlstate : "");
	(void)snprintf(o->value, sizeof(o->value), "%s", v != NULL ? v : "(null)");
	o->at_ms = now_ms() - f->start_ms;
}

/* Reset the outcome and start the clock. Timers run from the loop's cached time, which
 * is stale since loop init: refresh it so "300 ms" means 300 ms from now. */
static void begin(struct fixture *f)
{
	memset(&f->out, 0, sizeof(f->out));
	uv_update_time(&f->loop);
	f->start_ms = now_ms();
}

/* keys/values for 127.0.0.1:@port as the trusted test superuser */
#define CONNINFO(port)                                                                     \
	const char *keys[] = {"hostaddr", "port", "user", "dbname", "application_name", NULL}; \
	const char *values[] = {"127.0.0.1", (port), "baton", "postgres", "baton-test", NULL}

static struct baton_pg_op *start_query(struct fixture *f, const char *port, const char *sql,
				       const char *const *params, unsigned timeout_ms)
{
	CONNINFO(port);
	struct baton_pg_op *op = NULL;

	begin(f);
	f->in_call = true;
	assert_int_equal(
		baton_pg_query(&f->loop, keys, values, sql, params, timeout_ms, record_cb, f, &op),
		0);
	f->in_call = false;
	assert_non_null(op);
	return op;
}

static void start_script(struct fixture *f, const char *port, const char *const *stmts,
			 unsigned timeout_ms)
{
	CONNINFO(port);

	begin(f);
	f->in_call = true;
	assert_int_equal(baton_pg_script(&f->loop, keys, values, stmts, timeout_ms, record_cb, f,
					 NULL),
			 0);
	f->in_call = false;
}

/* Run the loop until the callback ran, at most @max_ms; then it must have run once. */
static void run_until_done(struct fixture *f, uint64_t max_ms)
{
	uint64_t deadline = now_ms() + max_ms;

	while (f->out.calls == 0 && now_ms() < deadline)
		(void)uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->out.calls, 1);
	assert_false(f->out.sync_call);
	/* every handle of the op is closed by now: the loop has nothing left of it */
	(void)uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->out.calls, 1);
}

static struct outcome *query(struct fixture *f, const char *port, const char *sql,
			     const char *const *params, unsigned timeout_ms)
{
	(void)start_query(f, port, sql, params, timeout_ms);
	run_until_done(f, timeout_ms + 2000);
	return &f->out;
}

static void ticker_cb(uv_timer_t *t)
{
	struct ticker *k = t->data;
	uint64_t now = now_ms();

	if (now - k->last_ms > k->max_gap_ms)
		k->max_gap_ms = now - k->last_ms;
	k->last_ms = now;
}

static void ticker_start(struct fixture *f, struct ticker *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(uv_timer_init(&f->loop, &k->timer), 0);
	k->timer.data = k;
	k->last_ms = now_ms();
	assert_int_equal(uv_timer_start(&k->timer, ticker_cb, 10, 10), 0);
}

static void ticker_stop(struct ticker *k)
{
	(void)uv_timer_stop(&k->timer);
	uv_close((uv_handle_t *)&k->timer, NULL); /* teardown runs the close */
}

/* A port on 127.0.0.1 that nothing listens on (bound, read, released). */
static void closed_port(char *out, size_t n)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	(void)close(fd);
	(void)snprintf(out, n, "%u", (unsigned)ntohs(a.sin_port));
}

/* --- tests without a server ---------------------------------------------------------- */

/* A host name would need a blocking lookup: it is refused, with the name in the message,
 * through the callback and never synchronously. */
static void host_name_is_rejected_without_connecting(void **state)
{
	struct fixture *f = *state;
	const char *keys[] = {"host", "port", NULL};
	const char *values[] = {"db.example.com", "5432", NULL};
	char msg[BATON_PG_ERRMSG_LEN];

	assert_int_equal(baton_pg_conninfo_check(keys, values, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "'db.example.com' is not a numeric IPv4 address"));

	begin(f);
	f->in_call = true;
	assert_int_equal(
		baton_pg_query(&f->loop, keys, values, "SELECT 1", NULL, 1000, record_cb, f, NULL),
		0);
	f->in_call = false;
	assert_int_equal(f->out.calls, 0);
	run_until_done(f, 1000);
	assert_int_equal(f->out.err, -EINVAL);
	assert_int_equal(f->out.stmt, -1);
	assert_non_null(strstr(f->out.errmsg, "db.example.com"));
}

/* Arguments that are programming errors fail synchronously and never call back. */
static void bad_arguments_fail_synchronously(void **state)
{
	struct fixture *f = *state;
	CONNINFO("5432");
	const char *empty[] = {NULL};

	memset(&f->out, 0, sizeof(f->out));
	assert_int_equal(baton_pg_query(&f->loop, keys, values, "SELECT 1", NULL, 0, record_cb, f,
					NULL),
			 -EINVAL);
	assert_int_equal(baton_pg_query(&f->loop, keys, values, NULL, NULL, 100, record_cb, f,
					NULL),
			 -EINVAL);
	assert_int_equal(baton_pg_script(&f->loop, keys, values, empty, 100, record_cb, f, NULL),
			 -EINVAL);
	(void)uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->out.calls, 0);
}

/* Nothing listening: -ECONNREFUSED within a second, with libpq's explanation. */
static void closed_port_is_refused_quickly(void **state)
{
	struct fixture *f = *state;
	char port[8];
	struct outcome *o;

	closed_port(port, sizeof(port));
	o = query(f, port, "SELECT 1", NULL, 5000);
	assert_int_equal(o->err, -ECONNREFUSED);
	assert_true(o->at_ms < 1000);
	assert_non_null(strstr(o->errmsg, "refused"));
}

/* A server that accepts TCP but never speaks (a frozen postmaster looks like this):
 * -ETIMEDOUT at the deadline, and the loop kept running meanwhile. */
static void silent_server_times_out_while_loop_keeps_running(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct ticker *k = &f->ticker;
	char port[8];
	struct outcome *o;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0); /* never accept(): the kernel completes the handshake */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	(void)snprintf(port, sizeof(port), "%u", (unsigned)ntohs(a.sin_port));

	ticker_start(f, k);
	o = query(f, port, "SELECT 1", NULL, 300);
	ticker_stop(k);
	(void)close(fd);

	assert_int_equal(o->err, -ETIMEDOUT);
	assert_int_equal(o->stmt, -1);
	assert_true(o->at_ms >= 290 && o->at_ms < 1000);
	assert_non_null(strstr(o->errmsg, "while connecting"));
	assert_true(k->max_gap_ms < 100);
}

/* --- tests against the cluster ------------------------------------------------------- */

/* SELECT with a text parameter comes back with one row, one column. */
static void select_round_trip_returns_the_row(void **state)
{
	struct fixture *f = *state;
	const char *params[] = {"41", NULL};
	struct outcome *o;

	need_server(f);
	o = query(f, f->primary, "SELECT $1::int + 1", params, 5000);
	assert_int_equal(o->err, 0);
	assert_false(o->sql_error);
	assert_int_equal(o->stmt, 0);
	assert_int_equal(o->ntuples, 1);
	assert_int_equal(o->nfields, 1);
	assert_string_equal(o->value, "42");
	assert_string_equal(o->errmsg, "");
	assert_string_equal(o->sqlstate, "");
}

/* A parameter larger than the socket buffers goes out over several writable events
 * (PQflush() returning 1), and arrives whole. */
static void large_parameter_is_flushed_in_pieces(void **state)
{
	struct fixture *f = *state;
	size_t n = 8u << 20;
	char *big = malloc(n + 1);
	const char *params[] = {big, NULL};
	char want[32];
	struct outcome *o;

	need_server(f);
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	o = query(f, f->primary, "SELECT length($1)", params, 10000);
	free(big);
	assert_int_equal(o->err, 0);
	(void)snprintf(want, sizeof(want), "%zu", n);
	assert_string_equal(o->value, want);
}

/* COPY would need streaming, which this client does not do: -EPROTO, not a hang. */
static void copy_is_refused_as_unsupported(void **state)
{
	struct fixture *f = *state;
	struct outcome *o;

	need_server(f);
	o = query(f, f->primary, "COPY (SELECT 1) TO STDOUT", NULL, 5000);
	assert_int_equal(o->err, -EPROTO);
	assert_non_null(strstr(o->errmsg, "PGRES_COPY_OUT"));
}

/* The server refusing the login (no pg_hba.conf entry) is a connect failure, with the
 * server's reason. */
static void rejected_login_is_a_connect_failure(void **state)
{
	struct fixture *f = *state;
	const char *keys[] = {"hostaddr", "port", "user", "dbname", NULL};
	const char *values[] = {"127.0.0.1", f->primary, "nobody", "postgres", NULL};

	need_server(f);
	begin(f);
	assert_int_equal(baton_pg_query(&f->loop, keys, values, "SELECT 1", NULL, 5000,
					record_cb, f, NULL),
			 0);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, -ECONNREFUSED);
	assert_int_equal(f->out.stmt, -1);
	assert_non_null(strstr(f->out.errmsg, "pg_hba.conf"));
}

/* A backend that dies mid-statement: -EIO (not a SQL error), with the server's
 * SQLSTATE when it said why. */
static void backend_killed_mid_statement_is_an_io_error(void **state)
{
	struct fixture *f = *state;
	struct outcome *o;

	need_server(f);
	o = query(f, f->primary, "SELECT pg_terminate_backend(pg_backend_pid())", NULL, 5000);
	assert_int_equal(o->err, -EIO);
	assert_false(o->sql_error);
	assert_int_equal(o->stmt, 0);
	assert_string_equal(o->sqlstate, "57P01");
}

/* libpq's multi-host form: a refused address and a replica are skipped (each on a new
 * socket) until target_session_attrs=primary is met. */
static void address_list_finds_the_primary(void **state)
{
	struct fixture *f = *state;
	char closed[8], ports[32];
	const char *keys[] = {"hostaddr", "port", "user", "dbname", "target_session_attrs", NULL};
	const char *values[] = {"127.0.0.1,127.0.0.1,127.0.0.1", ports, "baton", "postgres",
				"primary", NULL};

	need_server(f);
	closed_port(closed, sizeof(closed));
	(void)snprintf(ports, sizeof(ports), "%s,%s,%s", closed, f->replica, f->primary);
	begin(f);
	assert_int_equal(baton_pg_query(&f->loop, keys, values, "SELECT pg_is_in_recovery()",
					NULL, 5000, record_cb, f, NULL),
			 0);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, 0);
	assert_string_equal(f->out.value, "f");
}

/* A statement the server rejects: transport fine, sql_error with SQLSTATE and message. */
static void query_error_reports_sqlstate_and_message(void **state)
{
	struct fixture *f = *state;
	struct outcome *o;

	need_server(f);
	o = query(f, f->primary, "SELECT * FROM no_such_table", NULL, 5000);
	assert_int_equal(o->err, 0);
	assert_true(o->sql_error);
	assert_int_equal(o->stmt, 0);
	assert_string_equal(o->sqlstate, "42P01");
	assert_non_null(strstr(o->errmsg, "no_such_table"));
	assert_int_equal(o->ntuples, 0);
}

/* A statement slower than the deadline: -ETIMEDOUT on time, the loop never stalled. */
static void slow_statement_times_out_while_loop_keeps_running(void **state)
{
	struct fixture *f = *state;
	struct ticker *k = &f->ticker;
	struct outcome *o;

	need_server(f);
	ticker_start(f, k);
	o = query(f, f->primary, "SELECT pg_sleep(5)", NULL, 300);
	ticker_stop(k);
	assert_int_equal(o->err, -ETIMEDOUT);
	assert_int_equal(o->stmt, 0);
	assert_true(o->at_ms >= 290 && o->at_ms < 1000);
	assert_non_null(strstr(o->errmsg, "while running statement 0"));
	assert_true(k->max_gap_ms < 100);
}

static void cancel_timer_cb(uv_timer_t *t)
{
	struct baton_pg_op *op = t->data;

	baton_pg_cancel(op);
	uv_close((uv_handle_t *)t, NULL);
}

/* Cancelling an in-flight statement calls back soon with -ECANCELED. */
static void cancel_in_flight_calls_back_with_ecanceled(void **state)
{
	struct fixture *f = *state;
	uv_timer_t *t = &f->cancel_timer;

	need_server(f);
	assert_int_equal(uv_timer_init(&f->loop, t), 0);
	t->data = start_query(f, f->primary, "SELECT pg_sleep(5)", NULL, 10000);
	assert_int_equal(uv_timer_start(t, cancel_timer_cb, 100, 0), 0);
	run_until_done(f, 3000);
	assert_int_equal(f->out.err, -ECANCELED);
	assert_true(f->out.at_ms >= 90 && f->out.at_ms < 1000);
}

/* Cancelling right after the start never calls back from inside baton_pg_cancel. */
static void cancel_right_away_calls_back_later(void **state)
{
	struct fixture *f = *state;
	struct baton_pg_op *op;

	need_server(f);
	op = start_query(f, f->primary, "SELECT 1", NULL, 5000);
	f->in_call = true;
	baton_pg_cancel(op);
	baton_pg_cancel(op); /* already finishing: no effect */
	f->in_call = false;
	assert_int_equal(f->out.calls, 0);
	run_until_done(f, 1000);
	assert_int_equal(f->out.err, -ECANCELED);
}

/* A script runs in order and stops at the first error, naming the statement. */
static void script_stops_at_first_error_and_names_it(void **state)
{
	struct fixture *f = *state;
	const char *stmts[] = {"SELECT 1", "SELECT 1/0", "SELECT 3", NULL};
	const char *ok[] = {"SELECT 1", "SELECT 2", "SELECT 'last'", NULL};

	need_server(f);
	start_script(f, f->primary, stmts, 5000);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, 0);
	assert_true(f->out.sql_error);
	assert_int_equal(f->out.stmt, 1);
	assert_string_equal(f->out.sqlstate, "22012");
	assert_non_null(strstr(f->out.errmsg, "division by zero"));

	start_script(f, f->primary, ok, 5000);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, 0);
	assert_false(f->out.sql_error);
	assert_int_equal(f->out.stmt, 2);
	assert_string_equal(f->out.value, "last");
}

/* Retry @sql (a write) until it fails with @sqlstate ("" = until it succeeds); the
 * setting reaches new backends once the postmaster has processed the reload. */
static void write_until(struct fixture *f, const char *sql, const char *sqlstate)
{
	uint64_t deadline = now_ms() + 10000;
	struct outcome *o;

	for (;;) {
		o = query(f, f->primary, sql, NULL, 5000);
		assert_int_equal(o->err, 0);
		if (strcmp(o->sqlstate, sqlstate) == 0)
			return;
		assert_true(now_ms() < deadline); /* each attempt is a full round trip */
	}
}

/* The fence script (read-only + reload + terminate sessions) makes writes fail 25006. */
static void fence_script_makes_primary_read_only(void **state)
{
	struct fixture *f = *state;
	const char *fence[] = {
		"ALTER SYSTEM SET default_transaction_read_only = on",
		"SELECT pg_reload_conf()",
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
		"WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
		NULL,
	};
	const char *unfence[] = {
		"ALTER SYSTEM RESET default_transaction_read_only",
		"SELECT pg_reload_conf()",
		NULL,
	};
	struct outcome *o;

	need_server(f);
	o = query(f, f->primary, "CREATE TABLE IF NOT EXISTS fence_probe (i int)", NULL, 5000);
	assert_int_equal(o->err, 0);
	assert_false(o->sql_error);

	start_script(f, f->primary, fence, 5000);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, 0);
	assert_false(f->out.sql_error);
	assert_int_equal(f->out.stmt, 2);

	write_until(f, "INSERT INTO fence_probe VALUES (1)", "25006");
	assert_true(f->out.sql_error);
	assert_non_null(strstr(f->out.errmsg, "read-only transaction"));

	/* undo, so the cluster is writable again */
	start_script(f, f->primary, unfence, 5000);
	run_until_done(f, 7000);
	assert_int_equal(f->out.err, 0);
	assert_false(f->out.sql_error);
	write_until(f, "INSERT INTO fence_probe VALUES (2)", "");
}

/* pg_promote(wait => true) on a streaming replica makes it a primary. */
static void promote_turns_replica_into_primary(void **state)
{
	struct fixture *f = *state;
	struct outcome *o;

	need_server(f);
	o = query(f, f->replica, "SELECT pg_is_in_recovery()", NULL, 5000);
	assert_int_equal(o->err, 0);
	assert_string_equal(o->value, "t");

	o = query(f, f->replica, "SELECT pg_promote(true, 30)", NULL, 35000);
	assert_int_equal(o->err, 0);
	assert_false(o->sql_error);
	assert_string_equal(o->value, "t");

	o = query(f, f->replica, "SELECT pg_is_in_recovery()", NULL, 5000);
	assert_int_equal(o->err, 0);
	assert_string_equal(o->value, "f");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(host_name_is_rejected_without_connecting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bad_arguments_fail_synchronously, setup, teardown),
		cmocka_unit_test_setup_teardown(closed_port_is_refused_quickly, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_server_times_out_while_loop_keeps_running,
						setup, teardown),
		cmocka_unit_test_setup_teardown(select_round_trip_returns_the_row, setup,
						teardown),
		cmocka_unit_test_setup_teardown(large_parameter_is_flushed_in_pieces, setup,
						teardown),
		cmocka_unit_test_setup_teardown(copy_is_refused_as_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(rejected_login_is_a_connect_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(backend_killed_mid_statement_is_an_io_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(address_list_finds_the_primary, setup, teardown),
		cmocka_unit_test_setup_teardown(query_error_reports_sqlstate_and_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(slow_statement_times_out_while_loop_keeps_running,
						setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_in_flight_calls_back_with_ecanceled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(cancel_right_away_calls_back_later, setup,
						teardown),
		cmocka_unit_test_setup_teardown(script_stops_at_first_error_and_names_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fence_script_makes_primary_read_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(promote_turns_replica_into_primary, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
