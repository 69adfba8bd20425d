/* SPDX-License-Identifier: MIT */
/* batonctl status: who leads, which region is active, and how close the cluster is to stopping.
 *
 * Which view is shown: the first endpoint that answers is asked; if it knows
 * no leader (it may be cut off from the majority) the remaining endpoints are
 * asked in turn. Once a node names a leader, the leader itself is asked,
 * because only the leader's view of reachability is live (followers report
 * the last committed view). If the leader does not answer, the follower's
 * view is shown with a warning. Exit 3 when the view shown has no leader. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "util.h"

#define LABEL "%-14s"

struct status_view {
	struct baton_cli_reply first;  /* the first node that answered; if it knows no leader, the last asked */
	struct baton_cli_reply leader; /* the leader's own answer; .json NULL if not asked or no answer */
	const struct baton_cli_reply *shown;
	char no_leader[256];           /* nodes asked that know no leader: "eu-west, ap-south" */
	char leader_error[512];        /* why the leader did not answer */
	char failed_leader[128];       /* "eu-west, named leader by ap-south" */
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: batonctl status [--json] [--group NAME] [--cluster URL[,URL...]]\n"
		   "\n"
		   "Leader and term, each group's active region, epoch, freeze and running transition,\n"
		   "the members and whether the leader hears from them, how many more members the\n"
		   "cluster can lose, and whether this node's config matches the committed one.\n"
		   "\n"
		   "  -j, --json           the node's /v1/status JSON, plus \"answered_by\" and \"live_view\"\n"
		   "  -g, --group NAME     only this failover group\n"
		   "  -c, --cluster URLS   nodes to ask (see batonctl --help)\n"
		   "  -h, --help           this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 no endpoint answered, 2 usage error, 3 the cluster has no leader.\n");
}

static const json_t *leader_of(const json_t *st)
{
	const json_t *l = json_object_get(json_object_get(st, "raft"), "leader");

	return json_is_object(l) ? l : NULL;
}

static const char *node_name(const json_t *st)
{
	return baton_cli_jstr(json_object_get(st, "node"), "name", "?");
}

static void list_add(char *list, size_t n, const char *item)
{
	size_t used = strlen(list);

	snprintf(list + used, n - used, "%s%s", used > 0 ? ", " : "", item);
}

/* Ask the leader @v->first names. Returns 0 if it answered, else < 0 with
 * the reason in v->leader_error. */
static int ask_leader(struct baton_cli_client *c, struct status_view *v)
{
	const json_t *l = leader_of(v->first.json);

	c->errors[0] = '\0';
	if (baton_cli_get_addr(c, baton_cli_jstr(l, "api", ""), v->first.url, "/v1/status", &v->leader) == 0) {
		v->shown = &v->leader;
		v->leader_error[0] = '\0';
		return 0;
	}
	snprintf(v->leader_error, sizeof v->leader_error, "%s", c->errors);
	snprintf(v->failed_leader, sizeof v->failed_leader, "%s, named leader by %s,",
		 baton_cli_jstr(l, "name", "?"), node_name(v->first.json));
	return -EHOSTUNREACH;
}

/* Ask @v->first's node again (after its leader failed us); 0 if it answered. */
static int ask_again(struct baton_cli_client *c, struct status_view *v)
{
	struct baton_cli_reply again;

	if (baton_cli_get_addr(c, v->first.url, v->first.url, "/v1/status", &again) != 0)
		return -EHOSTUNREACH;
	baton_strlcpy(again.name, v->first.name, sizeof again.name);
	again.index = v->first.index;
	baton_cli_reply_done(&v->first);
	v->first = again;
	return 0;
}

/* Fill @v as described at the top. Returns 0, or BATON_CLI_UNREACHABLE. */
static int status_fetch(struct baton_cli_client *c, struct status_view *v)
{
	struct baton_cli_reply next;
	char failed[BATON_CLI_URL_LEN];

	if (baton_cli_get_first(c, 0, "/v1/status", &v->first) != 0) {
		fprintf(stderr, "batonctl status: no endpoint answered:\n%s", c->errors);
		return BATON_CLI_UNREACHABLE;
	}
	v->shown = &v->first;
	while (leader_of(v->first.json) == NULL) {
		list_add(v->no_leader, sizeof v->no_leader, node_name(v->first.json));
		if (v->first.index + 1 >= c->n)
			return 0;
		if (baton_cli_get_first(c, v->first.index + 1, "/v1/status", &next) != 0)
			return 0;
		baton_cli_reply_done(&v->first);
		v->first = next;
	}
	if (strcmp(baton_cli_jstr(leader_of(v->first.json), "name", ""), node_name(v->first.json)) == 0)
		return 0;
	if (ask_leader(c, v) == 0)
		return 0;
	/* A leader that just died stays named by followers until they time out
	 * and elect another: ask the same node once more before giving up. */
	baton_strlcpy(failed, baton_cli_jstr(leader_of(v->first.json), "api", ""), sizeof failed);
	if (ask_again(c, v) != 0)
		return 0;
	if (leader_of(v->first.json) == NULL)
		list_add(v->no_leader, sizeof v->no_leader, node_name(v->first.json));
	else if (strcmp(baton_cli_jstr(leader_of(v->first.json), "api", ""), failed) != 0 &&
		 strcmp(baton_cli_jstr(leader_of(v->first.json), "name", ""), node_name(v->first.json)) != 0)
		(void)ask_leader(c, v);
	return 0;
}

static bool is_live(const json_t *st)
{
	return strcmp(baton_cli_jstr(json_object_get(st, "raft"), "role", ""), "leader") == 0;
}

static void print_answered(const struct status_view *v)
{
	const json_t *st = v->shown->json;
	const json_t *l = leader_of(v->first.json);

	printf(LABEL "%s\n", "cluster:", baton_cli_jstr(st, "cluster", "?"));
	printf(LABEL "%s at %s (%s)\n", "answered by:", node_name(st), v->shown->name,
	       is_live(st) ? "the leader: reachability below is live"
			   : "not the leader: reachability below is the last committed view");
	if (v->shown == &v->leader)
		printf(LABEL "first asked %s at %s, which named %s as leader\n", "", node_name(v->first.json),
		       v->first.name, baton_cli_jstr(l, "name", "?"));
	if (v->leader_error[0] != '\0')
		printf(LABEL "%s did not answer here:\n%s", "WARNING:", v->failed_leader, v->leader_error);
	if (v->no_leader[0] != '\0' && leader_of(st) != NULL)
		printf(LABEL "%s answered but knows no leader: cut off from the majority?\n", "WARNING:",
		       v->no_leader);
	if (!json_is_true(json_object_get(json_object_get(st, "node"), "caught_up")))
		printf(LABEL "%s has not caught up with the leader: its view may be stale\n", "WARNING:",
		       node_name(st));
}

static void print_leader(const struct status_view *v)
{
	const json_t *raft = json_object_get(v->shown->json, "raft");
	const json_t *l = leader_of(v->shown->json);

	if (l == NULL) {
		printf(LABEL "NO LEADER — the cluster cannot decide anything until a majority is back\n",
		       "leader:");
		printf(LABEL "term %lld; no leader known to: %s\n", "", baton_cli_jint(raft, "term", 0),
		       v->no_leader);
		return;
	}
	printf(LABEL "%s, term %lld%s\n", "leader:", baton_cli_jstr(l, "name", "?"),
	       baton_cli_jint(raft, "term", 0),
	       is_live(v->shown->json) && !json_is_true(json_object_get(raft, "leader_ready"))
		       ? " (elected, not ready yet: committing its first entry)"
		       : "");
}

static void print_step(unsigned i, const json_t *s)
{
	const char *state = baton_cli_jstr(s, "state", "?");
	bool running = strcmp(state, "running") == 0;
	long long dur = baton_cli_jint(s, "duration_ms", 0), started = baton_cli_jint(s, "started_at_ms", 0);
	long long attempts = baton_cli_jint(s, "attempts", 0);
	char d[32] = "";

	if (running && started > 0 && baton_wall_ms() > (uint64_t)started)
		dur = (long long)(baton_wall_ms() - (uint64_t)started);
	if (dur > 0 || strcmp(state, "done") == 0)
		baton_cli_format_duration(d, sizeof d, (uint64_t)dur);
	printf("    %u. %-14s %-16s %s", i + 1, baton_cli_jstr(s, "name", "?"), baton_cli_jstr(s, "driver", ""),
	       state);
	if (d[0] != '\0')
		printf("%*s%s%s", 9 - (int)strlen(state), "", d, running ? " so far" : "");
	if (attempts > 1)
		printf(", attempt %lld", attempts);
	printf("\n");
	if (baton_cli_jstr(s, "error", "")[0] != '\0')
		printf("       error: %s\n", baton_cli_jstr(s, "error", ""));
}

/* A group's transition: the running one, or the last one and how it ended. */
static void print_transition(const json_t *t)
{
	const char *state = baton_cli_jstr(t, "state", "?");
	bool running = strcmp(state, "running") == 0;
	long long start = baton_cli_jint(t, "started_at_ms", 0), end = baton_cli_jint(t, "ended_at_ms", 0);
	const json_t *steps = json_object_get(t, "steps");
	char at[40], d[32] = "?", what[256];

	if (running && start > 0 && baton_wall_ms() > (uint64_t)start)
		baton_cli_format_duration(d, sizeof d, baton_wall_ms() - (uint64_t)start);
	else if (!running && end >= start && start > 0)
		baton_cli_format_duration(d, sizeof d, (uint64_t)(end - start));
	baton_cli_format_utc(at, sizeof at, (uint64_t)start);
	snprintf(what, sizeof what, "%s%s %s -> %s", json_is_true(json_object_get(t, "drill")) ? "drill " : "",
		 baton_cli_jstr(t, "kind", "?"), baton_cli_jstr(t, "from", "?"), baton_cli_jstr(t, "to", "?"));
	if (running)
		printf("  " LABEL "IN PROGRESS for %s: %s", "transition:", d, what);
	else
		printf("  " LABEL "none running; the last, %s, %s after %s", "transition:", what, state, d);
	printf(" (epoch %lld, started %s)\n", baton_cli_jint(t, "epoch", 0), at);
	if (baton_cli_jstr(t, "reason", "")[0] != '\0')
		printf("  " LABEL "%s\n", "reason:", baton_cli_jstr(t, "reason", ""));
	for (size_t i = 0; i < json_array_size(steps); i++)
		print_step((unsigned)i, json_array_get(steps, i));
}

/* The lease: who holds it (the active region) and, on the leader's view,
 * whether it is revoked and when promotion of another region would be
 * allowed. */
static void print_lease(const json_t *g)
{
	const json_t *l = json_object_get(g, "lease");

	if (!json_is_object(l))
		return;
	printf("  " LABEL "held by %s; ttl %lld ms", "lease:", baton_cli_jstr(g, "active_region", "nobody"),
	       baton_cli_jint(l, "ttl_ms", 0));
	if (json_is_true(json_object_get(l, "held_here")))
		printf(", %s here, %lld ms left", json_is_true(json_object_get(l, "valid")) ? "valid" : "NOT VALID",
		       baton_cli_jint(l, "remaining_ms", 0));
	if (json_is_true(json_object_get(l, "fenced")))
		printf("; SELF-FENCED: %s", baton_cli_jstr(l, "fence_reason", "?"));
	if (json_is_true(json_object_get(l, "revoked")))
		printf("; REVOKED (region objectively down)");
	if (json_is_integer(json_object_get(l, "last_grant_ms_ago")))
		printf("; last renewal %lld ms ago", baton_cli_jint(l, "last_grant_ms_ago", 0));
	if (baton_cli_jint(l, "promotion_allowed_in_ms", 0) > 0)
		printf("; another region may be promoted in %lld ms", baton_cli_jint(l, "promotion_allowed_in_ms", 0));
	printf("\n");
}

static void print_decision(const json_t *g)
{
	const json_t *d = json_object_get(g, "decision");

	if (!json_is_object(d))
		return;
	printf("  " LABEL "%s%s%s: %s\n", "decision:", baton_cli_jstr(d, "decision", "?"),
	       baton_cli_jstr(d, "rule", "")[0] ? " / " : "", baton_cli_jstr(d, "rule", ""), baton_cli_jstr(d, "text", ""));
}

/* Each region: health as each observer sees it, its reporters, and whether
 * a failover to it would be allowed now (else the rule that blocks it). */
static void print_regions(const json_t *g)
{
	const json_t *regions = json_object_get(g, "regions");
	size_t i, j;

	if (!json_is_array(regions) || json_array_size(regions) == 0)
		return;
	printf("  regions:\n");
	for (i = 0; i < json_array_size(regions); i++) {
		const json_t *r = json_array_get(regions, i);
		const json_t *obs = json_object_get(r, "observations"), *h = json_object_get(r, "health");
		bool active = json_is_true(json_object_get(r, "active"));
		printf("    %-12s prio %-4lld %-8s %s", baton_cli_jstr(r, "name", "?"), baton_cli_jint(r, "priority", 0),
		       active ? "ACTIVE" : "standby",
		       json_is_true(json_object_get(r, "objectively_down")) ? "OBJECTIVELY DOWN" : "up");
		if (!active)
			printf(json_is_true(json_object_get(r, "ready")) ? ", ready to take over" : ", NOT ready: %s",
			       baton_cli_jstr(r, "readiness", "?"));
		printf("\n");
		for (j = 0; json_is_array(obs) && j < json_array_size(obs); j++) {
			const json_t *o = json_array_get(obs, j);
			if (json_is_true(json_object_get(o, "down")))
				printf("      seen down by %s: %s\n", baton_cli_jstr(o, "observer", "?"),
				       baton_cli_jstr(o, "detail", ""));
		}
		if (json_is_object(h))
			printf("      reporters: %s%s, lag %lld bytes / %lld ms%s%s\n",
			       json_is_true(json_object_get(h, "reporters_ok")) ? "reporting" : "SILENT",
			       json_is_true(json_object_get(h, "critical")) ? ", CRITICAL" : "",
			       baton_cli_jint(h, "lag_bytes", 0), baton_cli_jint(h, "lag_ms", 0),
			       baton_cli_jstr(h, "detail", "")[0] ? ": " : "", baton_cli_jstr(h, "detail", ""));
	}
}

static void print_group(const json_t *g)
{
	const json_t *t = json_object_get(g, "transition");

	printf("\ngroup %s\n", baton_cli_jstr(g, "name", "?"));
	printf("  " LABEL "%s, epoch %lld", "active:", baton_cli_jstr(g, "active_region", "NONE"),
	       baton_cli_jint(g, "epoch", 0));
	if (json_is_string(json_object_get(g, "previous_region")))
		printf(" (before: %s)", baton_cli_jstr(g, "previous_region", ""));
	printf("\n");
	if (json_is_true(json_object_get(g, "frozen")))
		printf("  " LABEL "YES, by %s: %s (no automatic failover until unfrozen)\n", "frozen:",
		       baton_cli_jstr(g, "frozen_by", "?"), baton_cli_jstr(g, "frozen_reason", "no reason given"));
	else
		printf("  " LABEL "no\n", "frozen:");
	if (json_is_object(t))
		print_transition(t);
	else
		printf("  " LABEL "none\n", "transition:");
	print_lease(g);
	print_decision(g);
	print_regions(g);
}

static const char *reach_text(const json_t *m)
{
	const json_t *r = json_object_get(m, "leader_hears_from");

	if (strcmp(baton_cli_jstr(m, "role", ""), "leader") == 0)
		return "(leader)";
	return json_is_true(r) ? "yes" : json_is_false(r) ? "NO" : "unknown";
}

static void print_members(const json_t *st)
{
	const json_t *members = json_object_get(st, "members");
	int w = (int)strlen("NAME");
	size_t i;

	for (i = 0; i < json_array_size(members); i++) {
		int len = (int)strlen(baton_cli_jstr(json_array_get(members, i), "name", "?"));
		w = len > w ? len : w;
	}
	printf("\nmembers (\"last heard\" is as %s sees it)\n", node_name(st));
	printf("  %-*s  %-10s %-10s %-22s %s\n", w, "NAME", "REGION", "ROLE", "REACHABLE FROM LEADER",
	       "LAST HEARD");
	for (i = 0; i < json_array_size(members); i++) {
		const json_t *m = json_array_get(members, i);
		long long heard = baton_cli_jint(m, "last_heard_ms", -1);
		bool witness = json_is_true(json_object_get(m, "witness"));
		char h[40] = "-";

		if (heard >= 0) {
			baton_cli_format_duration(h, sizeof h, (uint64_t)heard);
			strncat(h, " ago", sizeof h - strlen(h) - 1);
		}
		printf("  %-*s  %-10s %-10s %-22s %s\n", w, baton_cli_jstr(m, "name", "?"),
		       witness ? "(witness)" : baton_cli_jstr(m, "region", "?"), baton_cli_jstr(m, "role", "?"),
		       reach_text(m), h);
	}
}

static void print_tolerance(const json_t *st)
{
	const json_t *ft = json_object_get(st, "fault_tolerance");
	const json_t *losses = json_object_get(ft, "losses_survivable");
	long long n = json_integer_value(losses);

	printf("\n");
	if (!json_is_integer(losses))
		printf(LABEL "unknown: no leader has measured reachability yet\n", "tolerance:");
	else if (n > 0)
		printf(LABEL "survives %lld more loss%s", "tolerance:", n, n == 1 ? "" : "es");
	else if (n == 0)
		printf(LABEL "cannot lose any more members: one more loss stops all decisions", "tolerance:");
	else
		printf(LABEL "BELOW QUORUM: %lld more voter%s must come back", "tolerance:", -n,
		       n == -1 ? "" : "s");
	if (json_is_integer(losses))
		printf(" (%lld of %lld voters reachable, quorum %lld, as seen by %s)\n",
		       baton_cli_jint(ft, "reachable_voters", 0), baton_cli_jint(ft, "voters", 0),
		       baton_cli_jint(ft, "quorum", 0), baton_cli_jstr(ft, "as_seen_by", "?"));
}

static void print_config(const json_t *st)
{
	const json_t *cfg = json_object_get(st, "config");
	const char *hash = baton_cli_jstr(cfg, "hash", "?");
	const char *committed = baton_cli_jstr(cfg, "cluster_hash", NULL);

	if (committed == NULL)
		printf(LABEL "generation %lld, hash %.12s; no cluster config committed yet\n", "config:",
		       baton_cli_jint(cfg, "generation", 0), hash);
	else if (json_is_true(json_object_get(cfg, "matches")))
		printf(LABEL "generation %lld, hash %.12s; %s runs the committed cluster config\n", "config:",
		       baton_cli_jint(cfg, "generation", 0), hash, node_name(st));
	else
		printf(LABEL "MISMATCH: %s has generation %lld hash %.12s, the cluster committed generation %lld "
			     "hash %.12s\n",
		       "config:", node_name(st), baton_cli_jint(cfg, "generation", 0), hash,
		       baton_cli_jint(cfg, "cluster_generation", 0), committed);
	printf(LABEL "%s\n", "transport:", baton_cli_jstr(json_object_get(st, "raft"), "transport", "?"));
}

/* Keep only group @name in @st. Returns false (and lists the groups) if there is none. */
static bool select_group(json_t *st, const char *name)
{
	json_t *groups = json_object_get(st, "groups"), *only = json_array();
	char names[256] = "";

	for (size_t i = 0; i < json_array_size(groups); i++) {
		json_t *g = json_array_get(groups, i);
		if (strcmp(baton_cli_jstr(g, "name", ""), name) == 0)
			json_array_append(only, g);
		list_add(names, sizeof names, baton_cli_jstr(g, "name", "?"));
	}
	if (json_array_size(only) == 0) {
		fprintf(stderr, "batonctl status: no group '%s' (groups: %s)\n", name, names[0] ? names : "none");
		json_decref(only);
		return false;
	}
	json_object_set_new(st, "groups", only);
	return true;
}

static void print_text(const struct status_view *v)
{
	const json_t *st = v->shown->json;
	const json_t *groups = json_object_get(st, "groups");

	print_answered(v);
	print_leader(v);
	for (size_t i = 0; i < json_array_size(groups); i++)
		print_group(json_array_get(groups, i));
	print_members(st);
	print_tolerance(st);
	print_config(st);
}

int baton_cli_status_main(int argc, char *argv[], const struct baton_cli_opts *g)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},       {"group", required_argument, NULL, 'g'},
		{"cluster", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{0},
	};
	struct baton_cli_client client;
	struct status_view v = {0};
	const char *group = NULL, *cluster = g->cluster;
	bool json = false;
	int c, rv;

	for (;;) {
		c = getopt_long(argc, argv, ":jg:c:h", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'g':
			group = optarg;
			break;
		case 'c':
			cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return BATON_CLI_OK;
		default:
			return baton_cli_bad_option("status", argv, c);
		}
	}
	if (baton_cli_start("status", argc, argv, cluster, &client) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	rv = status_fetch(&client, &v);
	if (rv != 0)
		return rv;
	if (group != NULL && !select_group(v.shown->json, group)) {
		rv = BATON_CLI_USAGE;
		goto out;
	}
	if (json) {
		json_object_set_new(v.shown->json, "answered_by", json_string(v.shown->url));
		json_object_set_new(v.shown->json, "live_view", json_boolean(is_live(v.shown->json)));
		rv = baton_cli_print_json(v.shown->json);
	} else
		print_text(&v);
	if (rv == 0 && leader_of(v.shown->json) == NULL)
		rv = BATON_CLI_NO_LEADER;
out:
	baton_cli_reply_done(&v.first);
	baton_cli_reply_done(&v.leader);
	return rv;
}
