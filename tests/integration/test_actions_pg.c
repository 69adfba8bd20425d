/* SPDX-License-Identifier: MIT */
/* The postgres action driver against a real PostgreSQL 15 primary + 2 streaming replicas
 * (tests/integration/run_pg_tests.py starts them with tests/lib/pgcluster.py and exports
 * BATON_TEST_PG_PRIMARY, _REPLICA, _REPLICA2: ports on 127.0.0.1, user `baton`, trusted).
 *
 * The cases tell one failover story and run in this order on a fresh cluster: drill and
 * checks first (nothing may change), fence the primary at epoch 7, fence a standby,
 * promote replica 1, promote it again, refuse epoch 6 everywhere, drill again, and lift
 * a fence with a newer epoch. The test checks the driver's claims itself, over its own
 * (blocking, test-only) libpq connections while the loop is idle: writes refused with
 * 25006, sessions terminated, rows in baton_epoch. Without the environment the cases
 * that need a server are skipped. */
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
#include <libpq-fe.h>
#include <uv.h>

#include "action.h"

/* --- fixture -------------------------------------------------------------------------------- */

struct fixture {
	uv_loop_t loop;
	const char *primary, *replica, *replica2;
	bool in_start, sync_call, done;
	int calls;
	struct baton_action_result res;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->primary = getenv("BATON_TEST_PG_PRIMARY");
	f->replica = getenv("BATON_TEST_PG_REPLICA");
	f->replica2 = getenv("BATON_TEST_PG_REPLICA2");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	(void)uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static void need_server(struct fixture *f)
{
	if (f->primary == NULL || f->replica == NULL || f->replica2 == NULL) {
		print_message("BATON_TEST_PG_PRIMARY/REPLICA/REPLICA2 unset: skipping\n");
		skip();
	}
}

static void done_cb(void *data, const struct baton_action_result *r)
{
	struct fixture *f = data;

	f->calls++;
	f->sync_call = f->sync_call || f->in_start;
	f->res = *r;
	f->done = true;
}

/* One attempt of the postgres driver on 127.0.0.1:@port; runs the loop until the
 * callback (the driver's own deadline bounds it). */
static void run_pg_within(struct fixture *f, const char *port, const char *op, uint64_t epoch,
			  const char *to, bool drill, unsigned timeout_ms)
{
	const struct baton_action_driver *d = baton_action_driver("postgres");
	struct baton_action_params p = {0};
	struct baton_action_ctx ctx = {.epoch = epoch, .group = "main", .from = "us-west",
				       .to = to, .step = "db", .transition = "t-1", .drill = drill,
				       .attempt = 1, .timeout_ms = timeout_ms};
	struct baton_action_env env = {.loop = &f->loop};
	struct baton_action_op *handle = NULL;

	snprintf(p.items[0].key, sizeof(p.items[0].key), "op");
	snprintf(p.items[0].value, sizeof(p.items[0].value), "%s", op);
	snprintf(p.items[1].key, sizeof(p.items[1].key), "conninfo");
	snprintf(p.items[1].value, sizeof(p.items[1].value),
		 "host=127.0.0.1 port=%s user=baton dbname=postgres", port);
	p.n = 2;
	f->done = false;
	f->calls = 0;
	f->sync_call = false;
	memset(&f->res, 0, sizeof(f->res));
	uv_update_time(&f->loop);
	f->in_start = true;
	assert_int_equal(d->start(&env, &p, &ctx, done_cb, f, &handle), 0);
	f->in_start = false;
	assert_non_null(handle);
	while (!f->done)
		(void)uv_run(&f->loop, UV_RUN_ONCE);
	(void)uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->calls, 1);
	assert_false(f->sync_call);
	print_message("  %s %s epoch %llu%s: status %d %s%s\n", op, port,
		      (unsigned long long)epoch, drill ? " (drill)" : "", f->res.status,
		      f->res.output, f->res.error);
}

static void run_pg(struct fixture *f, const char *port, const char *op, uint64_t epoch,
		   const char *to, bool drill)
{
	run_pg_within(f, port, op, epoch, to, drill, 20000);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* --- the test's own SQL (blocking libpq; the loop is idle meanwhile) ------------------------------ */

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_to(const char *port)
{
	char ci[160];
	PGconn *c;

	snprintf(ci, sizeof(ci),
		 "hostaddr=127.0.0.1 port=%s user=baton dbname=postgres gssencmode=disable "
		 "connect_timeout=10 application_name=test_actions_pg",
		 port);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect to %s: %s", port, PQerrorMessage(c));
	(void)PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

/* Run @sql on @c: the first value (or "") into @val, the SQLSTATE ("" if ok) returned. */
static const char *exec_on(PGconn *c, const char *sql, char *val, size_t n)
{
	static char state[8];
	PGresult *r = PQexec(c, sql);
	const char *s;

	if (val != NULL)
		val[0] = '\0';
	state[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) {
		if (val != NULL && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			snprintf(val, n, "%s", PQgetvalue(r, 0, 0));
	} else {
		s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(state, sizeof(state), "%s", s != NULL ? s : "conn");
	}
	PQclear(r);
	return state;
}

/* A fresh session: value of @sql's first column, or fail. */
static void query(const char *port, const char *sql, char *val, size_t n)
{
	PGconn *c = connect_to(port);
	const char *state = exec_on(c, sql, val, n);

	if (state[0] != '\0')
		fail_msg("%s on %s: SQLSTATE %s: %s", sql, port, state, PQerrorMessage(c));
	PQfinish(c);
}

/* A fresh session's write: its SQLSTATE, "" if accepted. */
static void write_state(const char *port, char *state, size_t n)
{
	PGconn *c = connect_to(port);

	snprintf(state, n, "%s", exec_on(c, "CREATE TABLE IF NOT EXISTS probe_write(a int)", NULL, 0));
	PQfinish(c);
}

static void epoch_row(const char *port, char *row, size_t n)
{
	query(port,
	      "SELECT coalesce((SELECT string_agg(epoch || ' ' || region || ' ' || at, ',') FROM "
	      "baton_epoch), 'none')",
	      row, n);
}

/* Until replica @port has replayed everything the primary @from has written. */
static void wait_replayed(const char *from, const char *port)
{
	char lsn[64], done[8], sql[200];

	query(from, "SELECT pg_current_wal_lsn()", lsn, sizeof(lsn));
	snprintf(sql, sizeof(sql), "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn", lsn);
	for (int i = 0; i < 1000; i++) {
		query(port, sql, done, sizeof(done));
		if (strcmp(done, "t") == 0)
			return;
		usleep(10000); /* poll interval; bounded by the loop count */
	}
	fail_msg("replica %s did not replay %s within 10 s", port, lsn);
}

/* --- cases ------------------------------------------------------------------------------------ */

/* Nothing listens: a fence cannot be confirmed, so the error is retryable. */
static void fence_of_an_unreachable_server_is_retryable(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char port[8];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0); /* not listening */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "%d", ntohs(sa.sin_port));
	run_pg(f, port, "fence", 7, "us-east", false);
	close(fd);
	assert_int_equal(f->res.status, -ECONNREFUSED);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "postgres 127.0.0.1:");
}

static void drill_on_a_fresh_primary_reports_and_creates_nothing(void **state)
{
	struct fixture *f = *state;
	char v[64];

	need_server(f);
	run_pg(f, f->primary, "fence", 7, "us-east", true);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "drill: would fence; nothing changed; primary, read-write");
	assert_contains(f->res.output, "2 replicas streaming");
	assert_contains(f->res.output, "no epoch recorded");
	query(f->primary, "SELECT to_regclass('baton_epoch') IS NULL", v, sizeof(v));
	assert_string_equal(v, "t");
	query(f->primary, "SELECT current_setting('default_transaction_read_only')", v, sizeof(v));
	assert_string_equal(v, "off");
}

static void check_primary_passes_on_the_primary(void **state)
{
	struct fixture *f = *state;

	need_server(f);
	run_pg(f, f->primary, "check_primary", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "primary, read-write");
}

static void check_primary_fails_on_a_replica(void **state)
{
	struct fixture *f = *state;

	need_server(f);
	run_pg(f, f->replica, "check_primary", 7, "us-east", false);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "not a writable primary: standby (in recovery)");
}

/* The old primary: its sessions are terminated, new ones cannot write, and it carries
 * the new epoch. */
static void fence_makes_the_old_primary_refuse_writes(void **state)
{
	struct fixture *f = *state;
	PGconn *old;
	char v[256], st[8];

	need_server(f);
	old = connect_to(f->primary);
	assert_string_equal(exec_on(old, "SELECT 1", v, sizeof(v)), "");
	run_pg(f, f->primary, "fence", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "epoch 7 stored (was none)");
	assert_contains(f->res.output, "refused (25006");
	/* the session opened before the fence was terminated */
	assert_string_not_equal(exec_on(old, "CREATE TABLE IF NOT EXISTS t_old(a int)", NULL, 0),
				"");
	assert_true(PQstatus(old) == CONNECTION_BAD);
	PQfinish(old);
	/* a new session cannot write */
	write_state(f->primary, st, sizeof(st));
	assert_string_equal(st, "25006");
	query(f->primary, "SELECT epoch || ' ' || region FROM baton_epoch", v, sizeof(v));
	assert_string_equal(v, "7 us-east");
}

static void fence_again_at_the_same_epoch_succeeds(void **state)
{
	struct fixture *f = *state;
	char st[8];

	need_server(f);
	run_pg(f, f->primary, "fence", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "epoch 7 stored (was 7)");
	write_state(f->primary, st, sizeof(st));
	assert_string_equal(st, "25006");
}

/* A standby cannot store the epoch, but stays read-only after a later promotion. */
static void fence_of_a_standby_sets_read_only_for_after_a_promotion(void **state)
{
	struct fixture *f = *state;
	char v[16];

	need_server(f);
	wait_replayed(f->primary, f->replica2);
	run_pg(f, f->replica2, "fence", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "standby (in recovery)");
	query(f->replica2, "SELECT current_setting('default_transaction_read_only')", v, sizeof(v));
	assert_string_equal(v, "on");
}

static void promote_makes_the_replica_accept_writes(void **state)
{
	struct fixture *f = *state;
	char v[256], st[8];

	need_server(f);
	run_pg(f, f->replica, "promote", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "promoted in");
	assert_contains(f->res.output, "writable");
	query(f->replica, "SELECT pg_is_in_recovery()", v, sizeof(v));
	assert_string_equal(v, "f");
	write_state(f->replica, st, sizeof(st));
	assert_string_equal(st, "");
	query(f->replica, "SELECT epoch || ' ' || region FROM baton_epoch", v, sizeof(v));
	assert_string_equal(v, "7 us-east");
}

static void promote_of_an_already_promoted_server_succeeds(void **state)
{
	struct fixture *f = *state;
	char st[8];

	need_server(f);
	run_pg(f, f->replica, "promote", 7, "us-east", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "already primary");
	write_state(f->replica, st, sizeof(st));
	assert_string_equal(st, "");
}

/* A stale leader (epoch 6) can neither fence, nor unfence, nor promote anything. */
static void lower_epoch_is_refused_on_both_servers(void **state)
{
	struct fixture *f = *state;
	char before_old[256], before_new[256], after[256], st[8];

	need_server(f);
	epoch_row(f->primary, before_old, sizeof(before_old));
	epoch_row(f->replica, before_new, sizeof(before_new));

	run_pg(f, f->primary, "fence", 6, "us-west", false);
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "the database already carries epoch 7 > 6");

	run_pg(f, f->primary, "promote", 6, "us-west", false); /* would unfence it */
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	write_state(f->primary, st, sizeof(st));
	assert_string_equal(st, "25006");

	run_pg(f, f->replica, "promote", 6, "us-west", false);
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	run_pg(f, f->replica, "fence", 6, "us-west", false);
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	write_state(f->replica, st, sizeof(st));
	assert_string_equal(st, "");

	epoch_row(f->primary, after, sizeof(after));
	assert_string_equal(after, before_old);
	epoch_row(f->replica, after, sizeof(after));
	assert_string_equal(after, before_new);
}

static void drill_leaves_the_epoch_table_and_settings_alone(void **state)
{
	struct fixture *f = *state;
	char before[256], after[256], v[16];

	need_server(f);
	epoch_row(f->replica, before, sizeof(before));
	run_pg(f, f->replica, "promote", 8, "us-west", true);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "drill: would promote; nothing changed; primary, read-write");
	assert_contains(f->res.output, "epoch 7 (region 'us-east')");
	run_pg(f, f->replica, "fence", 8, "us-west", true);
	assert_int_equal(f->res.status, 0);
	epoch_row(f->replica, after, sizeof(after));
	assert_string_equal(after, before);
	query(f->replica, "SELECT current_setting('default_transaction_read_only')", v, sizeof(v));
	assert_string_equal(v, "off");
}

/* A newer epoch may lift a fence (a failback after the old primary was rebuilt). */
static void promote_at_a_newer_epoch_lifts_an_earlier_fence(void **state)
{
	struct fixture *f = *state;
	char v[256], st[8];

	need_server(f);
	run_pg(f, f->primary, "promote", 8, "us-west", false);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "already primary; epoch 8 stored (was 7)");
	write_state(f->primary, st, sizeof(st));
	assert_string_equal(st, "");
	query(f->primary, "SELECT epoch || ' ' || region FROM baton_epoch", v, sizeof(v));
	assert_string_equal(v, "8 us-west");
}

/* A server that stays read-only after the reset (here: a per-database setting that
 * ALTER SYSTEM cannot override) is retried until the deadline, then reported. */
static void promote_reports_a_server_that_stays_read_only(void **state)
{
	struct fixture *f = *state;
	PGconn *c;
	uint64_t t0;

	need_server(f);
	c = connect_to(f->primary);
	assert_string_equal(exec_on(c, "ALTER DATABASE postgres SET default_transaction_read_only = on",
				    NULL, 0),
			    "");
	PQfinish(c);
	t0 = uv_hrtime() / 1000000;
	run_pg_within(f, f->primary, "promote", 8, "us-west", false, 1500);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "no result within 1500 ms (while confirming that a new "
				      "session can write: still 25006 after");
	assert_true(uv_hrtime() / 1000000 - t0 < 3000);
	c = connect_to(f->primary);
	assert_string_equal(exec_on(c, "SET default_transaction_read_only = off", NULL, 0), "");
	assert_string_equal(exec_on(c, "ALTER DATABASE postgres RESET default_transaction_read_only",
				    NULL, 0),
			    "");
	PQfinish(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fence_of_an_unreachable_server_is_retryable),
		cmocka_unit_test(drill_on_a_fresh_primary_reports_and_creates_nothing),
		cmocka_unit_test(check_primary_passes_on_the_primary),
		cmocka_unit_test(check_primary_fails_on_a_replica),
		cmocka_unit_test(fence_makes_the_old_primary_refuse_writes),
		cmocka_unit_test(fence_again_at_the_same_epoch_succeeds),
		cmocka_unit_test(fence_of_a_standby_sets_read_only_for_after_a_promotion),
		cmocka_unit_test(promote_makes_the_replica_accept_writes),
		cmocka_unit_test(promote_of_an_already_promoted_server_succeeds),
		cmocka_unit_test(lower_epoch_is_refused_on_both_servers),
		cmocka_unit_test(drill_leaves_the_epoch_table_and_settings_alone),
		cmocka_unit_test(promote_at_a_newer_epoch_lifts_an_earlier_fence),
		cmocka_unit_test(promote_reports_a_server_that_stays_read_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
