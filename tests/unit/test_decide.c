/* SPDX-License-Identifier: MIT */
/* The decision engine, as a table: each row changes one thing about a
 * baseline (eu-west active and down long enough, us-east and ap-south healthy
 * standbys) and names the decision, the rule and the target it must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

#define NOW 100000
#define WALL 1800000000000ull

struct world {
	struct baton_decide_region regions[3];
	uint64_t autos[8];
	struct baton_failover_config cfg;
	struct baton_decide_input in;
};

static void baseline(struct world *w)
{
	memset(w, 0, sizeof *w);
	w->regions[0] = (struct baton_decide_region){.name = "eu-west", .priority = 100, .down = true, .down_votes = 3};
	w->regions[1] = (struct baton_decide_region){.name = "us-east", .priority = 90, .reporters_fresh = true,
						     .has_lag = true, .lag_bytes = 100, .lag_ms = 10};
	w->regions[2] = (struct baton_decide_region){.name = "ap-south", .priority = 80, .reporters_fresh = true,
						     .has_lag = true, .lag_bytes = 0, .lag_ms = 0};
	w->cfg = (struct baton_failover_config){.failover_after_ms = 2000, .cooldown_ms = 300000,
						.max_lag_bytes = 1048576, .max_lag_ms = 10000,
						.flap_window_ms = 3600000, .flap_max = 3};
	w->in = (struct baton_decide_input){.active = "eu-west", .regions = w->regions, .n_regions = 3,
					    .now_ms = NOW, .active_down_since_ms = NOW - 5000,
					    .lease_clear_at_ms = NOW - 1, .now_wall_ms = WALL,
					    .auto_failovers_wall_ms = w->autos, .cfg = &w->cfg};
}

struct row {
	const char *name;
	void (*change)(struct world *w);
	int decision;
	const char *rule;
	const char *target;
};

static void nothing(struct world *w) { (void)w; }
static void active_up(struct world *w) { w->in.active_down_since_ms = 0; w->regions[0].down = false; }
static void no_active(struct world *w) { w->in.active = ""; }
static void down_briefly(struct world *w) { w->in.active_down_since_ms = NOW - 500; }
static void running(struct world *w) { w->in.transition_running = true; }
static void frozen(struct world *w) { w->in.frozen = true; }
static void cooldown(struct world *w) { w->autos[0] = WALL - 60000; w->in.n_auto = 1; }
static void cooldown_over(struct world *w) { w->autos[0] = WALL - 400000; w->in.n_auto = 1; }
static void flapping(struct world *w)
{
	w->autos[0] = WALL - 3000000; w->autos[1] = WALL - 2000000; w->autos[2] = WALL - 1000000;
	w->in.n_auto = 3;
}
static void old_flaps(struct world *w)
{
	w->autos[0] = WALL - 9000000; w->autos[1] = WALL - 8000000; w->autos[2] = WALL - 1000000;
	w->in.n_auto = 3;
}
static void lease_pending(struct world *w) { w->in.lease_clear_at_ms = NOW + 1500; }
static void us_down(struct world *w) { w->regions[1].down = true; }
static void us_critical(struct world *w) { w->regions[1].critical = true; }
static void us_lag_bytes(struct world *w) { w->regions[1].lag_bytes = 2 << 20; }
static void us_lag_ms(struct world *w) { w->regions[1].lag_ms = 60000; }
static void us_prio_zero(struct world *w) { w->regions[1].priority = 0; }
static void all_lag(struct world *w) { w->regions[1].lag_bytes = 2 << 20; w->regions[2].lag_bytes = 3 << 20; }
static void tie_priority(struct world *w) { w->regions[2].priority = 90; }
static void need_reporters(struct world *w) { w->cfg.require_reporters = true; w->regions[1].reporters_fresh = false; }
static void reporters_optional(struct world *w) { w->regions[1].reporters_fresh = false; }

static const struct row rows[] = {
	{"a healthy active region needs nothing", active_up, BATON_DECIDE_NONE, "", ""},
	{"without an active region there is nothing to fail over", no_active, BATON_DECIDE_NONE, "", ""},
	{"down longer than failover_after fails over to the highest priority", nothing, BATON_DECIDE_FAILOVER, "", "us-east"},
	{"down for less than failover_after waits", down_briefly, BATON_DECIDE_WAIT, "failover_after", ""},
	{"a running transition blocks", running, BATON_DECIDE_BLOCKED, "transition_running", ""},
	{"a frozen group is blocked", frozen, BATON_DECIDE_BLOCKED, "frozen", ""},
	{"a recent automatic failover is in cooldown", cooldown, BATON_DECIDE_BLOCKED, "cooldown", ""},
	{"after the cooldown it fails over again", cooldown_over, BATON_DECIDE_FAILOVER, "", "us-east"},
	{"too many automatic failovers in the window freeze the group", flapping, BATON_DECIDE_FREEZE, "flapping", ""},
	{"failovers outside the window do not count as flapping", old_flaps, BATON_DECIDE_FAILOVER, "", "us-east"},
	{"the old lease must run out first", lease_pending, BATON_DECIDE_WAIT, "lease", "us-east"},
	{"a down standby is skipped", us_down, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"a standby reporting a critical failure is skipped", us_critical, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"a standby over the byte lag limit is skipped (RPO guard)", us_lag_bytes, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"a standby over the time lag limit is skipped (RPO guard)", us_lag_ms, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"priority 0 is never chosen automatically", us_prio_zero, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"no standby within the lag limit blocks", all_lag, BATON_DECIDE_BLOCKED, "no_candidate", ""},
	{"equal priority: lower lag wins", tie_priority, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"required reporters: a standby without fresh reports is skipped", need_reporters, BATON_DECIDE_FAILOVER, "", "ap-south"},
	{"reporters not required: missing reports do not disqualify", reporters_optional, BATON_DECIDE_FAILOVER, "", "us-east"},
};

static void every_row_gives_its_decision(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct world w;
		struct baton_decide_output out;
		baseline(&w);
		rows[i].change(&w);
		baton_decide(&w.in, &out);
		print_message("%-70s -> %s %s %s | %s\n", rows[i].name, baton_decision_name(out.decision), out.rule,
			      out.target, out.text);
		assert_int_equal(out.decision, rows[i].decision);
		assert_string_equal(out.rule, rows[i].rule);
		if (rows[i].target[0] != '\0')
			assert_string_equal(out.target, rows[i].target);
		assert_true(out.text[0] != '\0');
	}
}

/* The "no candidate" sentence names every standby and why it was refused. */
static void blocked_says_why_each_standby_was_refused(void **state)
{
	struct world w;
	struct baton_decide_output out;

	(void)state;
	baseline(&w);
	w.regions[1].lag_bytes = 5 << 20;
	w.regions[2].down = true;
	baton_decide(&w.in, &out);
	assert_int_equal(out.decision, BATON_DECIDE_BLOCKED);
	assert_non_null(strstr(out.text, "us-east lags 5242880 bytes"));
	assert_non_null(strstr(out.text, "ap-south is down"));
}

/* Readiness of each standby uses the same rules. */
static void standby_readiness_uses_the_candidate_rules(void **state)
{
	struct world w;
	const char *rule;
	char why[160];

	(void)state;
	baseline(&w);
	w.regions[1].lag_bytes = 5 << 20;
	assert_false(baton_decide_candidate(&w.in, &w.regions[1], &rule, why, sizeof why));
	assert_string_equal(rule, "lag_bytes");
	assert_true(baton_decide_candidate(&w.in, &w.regions[2], &rule, why, sizeof why));
	assert_false(baton_decide_candidate(&w.in, &w.regions[0], &rule, why, sizeof why));
	assert_string_equal(rule, "active");
}

/* Lease arithmetic under clock-rate drift. A model of real time: the holder's
 * clock runs at rate h, the leader's at rate l (1.0 = true time). The holder
 * sends a renewal at real time 0 and the leader grants it at real time g >= 0.
 * The holder's lease ends when its clock has advanced ttl: real ttl / h. The
 * leader promotes when its clock has advanced the wait since the grant: real
 * g + wait / l. Safety: the lease ends (and margin passes) first, for every
 * pair of rates within the configured drift. */
static void the_lease_wait_outlasts_the_lease_for_any_drift_within_the_bound(void **state)
{
	(void)state;
	const uint64_t ttl = 3000, margin = 1000;
	const uint64_t drifts[] = {0, 1, 5, 10, 25, 50};

	for (size_t d = 0; d < sizeof drifts / sizeof drifts[0]; d++) {
		uint64_t wait = baton_lease_wait_ms(ttl, drifts[d], margin);
		/* The worst case: the holder's clock slow, the leader's fast, by
		 * a relative factor of (1 + drift) between them. */
		for (int step = 0; step <= 10; step++) {
			double rel = 1.0 + (double)drifts[d] / 100.0 * step / 10.0;
			double h = 1.0 / rel, l = 1.0;              /* holder slower */
			double lease_end = (double)ttl / h;          /* real ms */
			for (double g = 0; g <= 500; g += 250) {
				double promote = g + (double)wait / l;
				assert_true(promote >= lease_end + (double)margin - 1e-6);
			}
			h = 1.0;
			l = rel;                                     /* leader faster */
			lease_end = (double)ttl / h;
			assert_true((double)wait / l >= lease_end - 1e-6);
		}
	}
}

/* A new leader waits the full bound from its own election; a grant after
 * that moves the wait out. */
static void a_new_leader_waits_from_its_election(void **state)
{
	(void)state;
	assert_int_equal(baton_lease_wait_ms(3000, 5, 1000), 4150);
	assert_int_equal(baton_lease_wait_ms(1000, 3, 0), 1030);
	assert_int_equal(baton_lease_wait_ms(1001, 3, 0), 1032); /* rounded up */
	assert_int_equal(baton_lease_clear_at(0, 50000, 3000, 5, 1000), 54150);
	assert_int_equal(baton_lease_clear_at(52000, 50000, 3000, 5, 1000), 56150);
	assert_int_equal(baton_lease_clear_at(40000, 50000, 3000, 5, 1000), 54150);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_lease_wait_outlasts_the_lease_for_any_drift_within_the_bound),
		cmocka_unit_test(a_new_leader_waits_from_its_election),
		cmocka_unit_test(every_row_gives_its_decision),
		cmocka_unit_test(blocked_says_why_each_standby_was_refused),
		cmocka_unit_test(standby_readiness_uses_the_candidate_rules),
	};
	return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}
