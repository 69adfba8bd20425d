/* SPDX-License-Identifier: MIT */
/* node/config.c (the batond schema) and lib/yamltree.c (YAML -> tree, getters).
 *
 * Most cases are tables: take the valid BASE file below, replace one piece of
 * text, and expect exactly one message naming file, line and key. BASE's line
 * numbers are written next to it so the expected lines can be checked by eye. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "lib/yamltree.h"
#include "node/config.h"

/* ------------------------------------------------------------------------ */
/* Fixture */

static const char BASE[] =
	"cluster:\n"                           /*  1 */
	"  id: demo\n"                         /*  2 */
	"  generation: 1\n"                    /*  3 */
	"  raft:\n"                            /*  4 */
	"    election_timeout_ms: 1000\n"      /*  5 */
	"    heartbeat_ms: 100\n"              /*  6 */
	"    snapshot_threshold: 128\n"        /*  7 */
	"    snapshot_trailing: 64\n"          /*  8 */
	"    connect_retry_ms: 200\n"          /*  9 */
	"  members:\n"                         /* 10 */
	"    - id: 1\n"                        /* 11 */
	"      name: eu-west-1\n"              /* 12 */
	"      region: eu-west\n"              /* 13 */
	"      raft: 127.0.0.1:7001\n"         /* 14 */
	"      api: 127.0.0.1:8001\n"          /* 15 */
	"    - id: 2\n"                        /* 16 */
	"      name: us-east-1\n"              /* 17 */
	"      region: us-east\n"              /* 18 */
	"      raft: 127.0.0.1:7002\n"         /* 19 */
	"      api: 127.0.0.1:8002\n"          /* 20 */
	"    - id: 3\n"                        /* 21 */
	"      name: witness\n"                /* 22 */
	"      witness: true\n"                /* 23 */
	"      raft: 127.0.0.1:7003\n"         /* 24 */
	"      api: 127.0.0.1:8003\n"          /* 25 */
	"  regions:\n"                         /* 26 */
	"    - name: eu-west\n"                /* 27 */
	"      priority: 100\n"                /* 28 */
	"    - name: us-east\n"                /* 29 */
	"      priority: 50\n"                 /* 30 */
	"  groups:\n"                          /* 31 */
	"    - name: default\n"                /* 32 */
	"      initial_active: eu-west\n"      /* 33 */
	"node:\n"                              /* 34 */
	"  id: 1\n"                            /* 35 */
	"  data_dir: /var/lib/baton\n"         /* 36 */
	"  log_level: info\n"                  /* 37 */
	"  api_listen: \"\"\n"                 /* 38 */
	"  raft_bind: \"\"\n";                 /* 39 */

static const char MINIMAL[] =
	"cluster:\n"
	"  id: demo\n"
	"  members:\n"
	"    - {id: 7, name: a, region: eu-west, raft: 127.0.0.1:7001, api: 127.0.0.1:8001}\n"
	"  regions:\n"
	"    - name: eu-west\n"
	"node:\n"
	"  id: 7\n";

struct edit_case {
	const char *what;
	const char *find; /* unique text of BASE */
	const char *repl;
	const char *want; /* the whole message */
};

/* BASE with the first @find replaced by @repl; fails the test if @find is absent. */
static char *edit(const char *base, const char *find, const char *repl)
{
	const char *at = strstr(base, find);
	size_t pre, len;
	char *out;

	if (at == NULL)
		fail_msg("'%s' not found in the base config", find);
	pre = (size_t)(at - base);
	len = strlen(base) - strlen(find) + strlen(repl);
	out = malloc(len + 1);
	assert_non_null(out);
	memcpy(out, base, pre);
	memcpy(out + pre, repl, strlen(repl));
	strcpy(out + pre + strlen(repl), at + strlen(find));
	return out;
}

static int load(const char *yaml, struct baton_config *c, char *err, size_t errlen)
{
	return baton_config_load_string("test.yaml", yaml, strlen(yaml), c, err, errlen);
}

static void run_edit_cases(const struct edit_case *cases, size_t n)
{
	int failures = 0;

	for (size_t i = 0; i < n; i++) {
		struct baton_config c;
		char err[512] = "";
		char *yaml = edit(BASE, cases[i].find, cases[i].repl);
		int rv = load(yaml, &c, err, sizeof err);

		if (rv != -EINVAL || strcmp(err, cases[i].want) != 0) {
			print_message("case '%s': rv %d\n  want: %s\n  got:  %s\n", cases[i].what, rv,
				      cases[i].want, err);
			failures++;
		}
		free(yaml);
	}
	assert_int_equal(failures, 0);
}

#define RUN_EDIT_CASES(c) run_edit_cases((c), BATON_ARRAY_SIZE(c))

static void hash_of(const char *yaml, char out[65])
{
	struct baton_config c;
	char err[512] = "";

	if (load(yaml, &c, err, sizeof err) != 0)
		fail_msg("config does not load: %s", err);
	baton_config_cluster_hash(&c.cluster, out);
}

/* ------------------------------------------------------------------------ */
/* Valid files and defaults */

/* The full example loads and every value lands in its field. */
static void base_config_loads_with_every_value(void **state)
{
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load(BASE, &c, err, sizeof err), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.cluster.id, "demo");
	assert_int_equal(c.cluster.generation, 1);
	assert_int_equal(c.cluster.raft.election_timeout_ms, 1000);
	assert_int_equal(c.cluster.raft.heartbeat_ms, 100);
	assert_int_equal(c.cluster.raft.snapshot_threshold, 128);
	assert_int_equal(c.cluster.raft.snapshot_trailing, 64);
	assert_int_equal(c.cluster.raft.connect_retry_ms, 200);
	assert_int_equal(c.cluster.n_members, 3);
	assert_int_equal(c.cluster.members[1].id, 2);
	assert_string_equal(c.cluster.members[1].name, "us-east-1");
	assert_string_equal(c.cluster.members[1].region, "us-east");
	assert_false(c.cluster.members[1].witness);
	assert_string_equal(c.cluster.members[1].raft, "127.0.0.1:7002");
	assert_string_equal(c.cluster.members[1].api, "127.0.0.1:8002");
	assert_true(c.cluster.members[2].witness);
	assert_string_equal(c.cluster.members[2].region, "");
	assert_int_equal(c.cluster.n_regions, 2);
	assert_string_equal(c.cluster.regions[1].name, "us-east");
	assert_int_equal(c.cluster.regions[1].priority, 50);
	assert_int_equal(c.cluster.n_groups, 1);
	assert_string_equal(c.cluster.groups[0].initial_active, "eu-west");
	assert_int_equal(c.node.id, 1);
	assert_string_equal(c.node.data_dir, "/var/lib/baton");
	assert_int_equal(c.node.log_level, BATON_LOG_INFO);
	assert_ptr_equal(c.self, &c.cluster.members[0]);
}

/* Keys left out take their documented defaults, including the computed ones. */
static void minimal_config_gets_every_default(void **state)
{
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load(MINIMAL, &c, err, sizeof err), 0);
	assert_int_equal(c.cluster.generation, 1);
	assert_int_equal(c.cluster.raft.election_timeout_ms, 1000);
	assert_int_equal(c.cluster.raft.heartbeat_ms, 100);
	assert_int_equal(c.cluster.raft.snapshot_threshold, 128);
	assert_int_equal(c.cluster.raft.snapshot_trailing, 64);
	assert_int_equal(c.cluster.raft.connect_retry_ms, 200);
	assert_false(c.cluster.members[0].witness);
	assert_int_equal(c.cluster.regions[0].priority, 100);
	assert_int_equal(c.cluster.n_groups, 1);
	assert_string_equal(c.cluster.groups[0].name, "default");
	assert_string_equal(c.cluster.groups[0].initial_active, "eu-west");
	assert_string_equal(c.node.data_dir, "/var/lib/baton");
	assert_int_equal(c.node.log_level, BATON_LOG_INFO);
	assert_string_equal(c.node.api_listen, "127.0.0.1:8001");
	assert_string_equal(c.node.raft_bind, "127.0.0.1:7001");
	assert_non_null(c.self);
	assert_int_equal(c.self->id, 7);
}

/* Bind overrides replace the member's addresses for this node only. */
static void bind_overrides_are_kept(void **state)
{
	struct baton_config c;
	char err[512] = "";
	char *a = edit(BASE, "api_listen: \"\"", "api_listen: 0.0.0.0:9001");
	char *b = edit(a, "raft_bind: \"\"", "raft_bind: 0.0.0.0:7001");

	(void)state;
	assert_int_equal(load(b, &c, err, sizeof err), 0);
	assert_string_equal(c.node.api_listen, "0.0.0.0:9001");
	assert_string_equal(c.node.raft_bind, "0.0.0.0:7001");
	free(a);
	free(b);
}

/* A duration can carry a unit; a null value counts as not set. */
static void durations_take_units_and_null_means_default(void **state)
{
	struct baton_config c;
	char err[512] = "";
	char *a = edit(BASE, "election_timeout_ms: 1000", "election_timeout_ms: 2s");
	char *b = edit(a, "heartbeat_ms: 100", "heartbeat_ms: 250ms");
	char *d = edit(b, "connect_retry_ms: 200", "connect_retry_ms: ~");

	(void)state;
	assert_int_equal(load(d, &c, err, sizeof err), 0);
	assert_int_equal(c.cluster.raft.election_timeout_ms, 2000);
	assert_int_equal(c.cluster.raft.heartbeat_ms, 250);
	assert_int_equal(c.cluster.raft.connect_retry_ms, 200);
	free(a);
	free(b);
	free(d);
}

/* Every log level word maps to the enum of lib/log.h. */
static void log_levels_map_to_the_log_enum(void **state)
{
	static const struct {
		const char *word;
		enum baton_log_level level;
	} levels[] = { { "debug", BATON_LOG_DEBUG },   { "info", BATON_LOG_INFO },
		       { "notice", BATON_LOG_NOTICE }, { "warn", BATON_LOG_WARN },
		       { "error", BATON_LOG_ERROR } };

	(void)state;
	for (size_t i = 0; i < BATON_ARRAY_SIZE(levels); i++) {
		struct baton_config c;
		char err[512] = "", repl[64];
		char *y;

		snprintf(repl, sizeof repl, "log_level: %s", levels[i].word);
		y = edit(BASE, "log_level: info", repl);
		assert_int_equal(load(y, &c, err, sizeof err), 0);
		assert_int_equal(c.node.log_level, levels[i].level);
		free(y);
	}
}

/* Lookups by member id and region name. */
static void members_and_regions_are_found_by_id_and_name(void **state)
{
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load(BASE, &c, err, sizeof err), 0);
	assert_ptr_equal(baton_config_member(&c.cluster, 3), &c.cluster.members[2]);
	assert_null(baton_config_member(&c.cluster, 4));
	assert_ptr_equal(baton_config_region(&c.cluster, "us-east"), &c.cluster.regions[1]);
	assert_null(baton_config_region(&c.cluster, "us-west"));
}

/* ------------------------------------------------------------------------ */
/* Bounds: one case per bound, message exact */

static const struct edit_case bound_cases[] = {
	{ "generation 0", "generation: 1", "generation: 0",
	  "test.yaml:3: cluster.generation: must be at least 1, got 0" },
	{ "generation 2^63+1", "generation: 1", "generation: 9223372036854775809",
	  "test.yaml:3: cluster.generation: must be at most 9223372036854775808, got 9223372036854775809" },
	{ "generation beyond u64", "generation: 1", "generation: 99999999999999999999",
	  "test.yaml:3: cluster.generation: must be at most 9223372036854775808, got 99999999999999999999" },
	{ "election low", "election_timeout_ms: 1000", "election_timeout_ms: 99",
	  "test.yaml:5: cluster.raft.election_timeout_ms: must be at least 100 (ms), got 99" },
	{ "election high", "election_timeout_ms: 1000", "election_timeout_ms: 60001",
	  "test.yaml:5: cluster.raft.election_timeout_ms: must be at most 60000 (ms), got 60001" },
	{ "election high with unit", "election_timeout_ms: 1000", "election_timeout_ms: 2m",
	  "test.yaml:5: cluster.raft.election_timeout_ms: must be at most 60000 (ms), got 2m" },
	{ "heartbeat low", "heartbeat_ms: 100", "heartbeat_ms: 9",
	  "test.yaml:6: cluster.raft.heartbeat_ms: must be at least 10 (ms), got 9" },
	{ "heartbeat high", "heartbeat_ms: 100", "heartbeat_ms: 10001",
	  "test.yaml:6: cluster.raft.heartbeat_ms: must be at most 10000 (ms), got 10001" },
	{ "snapshot_threshold low", "snapshot_threshold: 128", "snapshot_threshold: 15",
	  "test.yaml:7: cluster.raft.snapshot_threshold: must be at least 16, got 15" },
	{ "snapshot_threshold high", "snapshot_threshold: 128", "snapshot_threshold: 1000001",
	  "test.yaml:7: cluster.raft.snapshot_threshold: must be at most 1000000, got 1000001" },
	{ "snapshot_trailing low", "snapshot_trailing: 64", "snapshot_trailing: 7",
	  "test.yaml:8: cluster.raft.snapshot_trailing: must be at least 8, got 7" },
	{ "snapshot_trailing high", "snapshot_trailing: 64", "snapshot_trailing: 1000001",
	  "test.yaml:8: cluster.raft.snapshot_trailing: must be at most 1000000, got 1000001" },
	{ "connect_retry low", "connect_retry_ms: 200", "connect_retry_ms: 49",
	  "test.yaml:9: cluster.raft.connect_retry_ms: must be at least 50 (ms), got 49" },
	{ "connect_retry high", "connect_retry_ms: 200", "connect_retry_ms: 10001",
	  "test.yaml:9: cluster.raft.connect_retry_ms: must be at most 10000 (ms), got 10001" },
	{ "member id 0", "- id: 1", "- id: 0",
	  "test.yaml:11: cluster.members[0].id: must be at least 1, got 0" },
	{ "member id 256", "- id: 2", "- id: 256",
	  "test.yaml:16: cluster.members[1].id: must be at most 255, got 256" },
	{ "node id 0", "node:\n  id: 1", "node:\n  id: 0",
	  "test.yaml:35: node.id: must be at least 1, got 0" },
	{ "node id 256", "node:\n  id: 1", "node:\n  id: 256",
	  "test.yaml:35: node.id: must be at most 255, got 256" },
	{ "priority high", "priority: 50", "priority: 1001",
	  "test.yaml:30: cluster.regions[1].priority: must be at most 1000, got 1001" },
	{ "cluster id empty", "id: demo", "id: \"\"",
	  "test.yaml:2: cluster.id: must not be empty" },
	{ "cluster id 64 chars", "id: demo",
	  "id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "test.yaml:2: cluster.id: must be at most 63 characters, got 64" },
	{ "cluster id charset", "id: demo", "id: Demo_1",
	  "test.yaml:2: cluster.id: must contain only [a-z0-9-], got 'Demo_1'" },
	{ "member name charset", "name: eu-west-1", "name: eu.west.1",
	  "test.yaml:12: cluster.members[0].name: must contain only [a-z0-9-], got 'eu.west.1'" },
	{ "region name 64 chars", "- name: us-east",
	  "- name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "test.yaml:29: cluster.regions[1].name: must be at most 63 characters, got 64" },
	{ "group name charset", "- name: default", "- name: Default",
	  "test.yaml:32: cluster.groups[0].name: must contain only [a-z0-9-], got 'Default'" },
	{ "relative data_dir", "data_dir: /var/lib/baton", "data_dir: var/lib/baton",
	  "test.yaml:36: node.data_dir: must be an absolute path, got 'var/lib/baton'" },
	{ "unknown log level", "log_level: info", "log_level: verbose",
	  "test.yaml:37: node.log_level: must be one of debug, info, notice, warn, error, got 'verbose'" },
	{ "yes is not a bool", "witness: true", "witness: yes",
	  "test.yaml:23: cluster.members[2].witness: must be true or false, got 'yes'" },
	{ "integer with letters", "generation: 1", "generation: 1a",
	  "test.yaml:3: cluster.generation: must be an integer, got '1a'" },
	{ "octal-looking integer", "generation: 1", "generation: 010",
	  "test.yaml:3: cluster.generation: must be an integer, got '010'" },
	{ "negative integer", "snapshot_threshold: 128", "snapshot_threshold: -128",
	  "test.yaml:7: cluster.raft.snapshot_threshold: must be an integer, got '-128'" },
	{ "unknown duration unit", "heartbeat_ms: 100", "heartbeat_ms: 100us",
	  "test.yaml:6: cluster.raft.heartbeat_ms: must be a duration in milliseconds, or with a unit ms, s, m or h (e.g. 1500, 2s), got '100us'" },
	{ "map where a number goes", "generation: 1", "generation: {a: 1}",
	  "test.yaml:3: cluster.generation: must be an integer, got a map" },
	{ "scalar where a section goes",
	  "  raft:\n    election_timeout_ms: 1000\n    heartbeat_ms: 100\n    snapshot_threshold: 128\n"
	  "    snapshot_trailing: 64\n    connect_retry_ms: 200\n",
	  "  raft: fast\n",
	  "test.yaml:4: cluster.raft: must be a map, got 'fast'" },
	{ "scalar where a list goes",
	  "  regions:\n    - name: eu-west\n      priority: 100\n    - name: us-east\n      priority: 50\n",
	  "  regions: eu-west\n",
	  "test.yaml:26: cluster.regions: must be a list, got 'eu-west'" },
	{ "list entry not a map", "    - name: us-east\n      priority: 50\n",
	  "    - us-east\n    - us-east\n",
	  "test.yaml:29: cluster.regions[1]: must be a map, got 'us-east'" },
};

/* Every bound of every key is enforced, with file, line and key in the message. */
static void each_bound_is_enforced_with_line_and_key(void **state)
{
	(void)state;
	RUN_EDIT_CASES(bound_cases);
}

/* A list with no entries, or more than its maximum, is refused at the list. */
static void list_lengths_are_enforced(void **state)
{
	static const struct edit_case cases[] = {
		{ "no regions", "  regions:\n    - name: eu-west\n      priority: 100\n    - name: us-east\n      priority: 50\n",
		  "  regions: []\n",
		  "test.yaml:26: cluster.regions: must have at least 1 entry, got 0" },
		{ "empty groups", "  groups:\n    - name: default\n      initial_active: eu-west\n",
		  "  groups: []\n", "test.yaml:31: cluster.groups: must have at least 1 entry, got 0" },
	};
	char members[4096], *yaml;
	struct baton_config c;
	char err[512] = "";
	size_t o = 0;

	(void)state;
	RUN_EDIT_CASES(cases);

	yaml = edit(MINIMAL,
		    "  members:\n    - {id: 7, name: a, region: eu-west, raft: 127.0.0.1:7001, api: 127.0.0.1:8001}\n",
		    "  members: []\n");
	assert_int_equal(load(yaml, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:3: cluster.members: must have at least 1 entry, got 0");
	free(yaml);

	/* nine members */
	o += (size_t)snprintf(members + o, sizeof members - o, "  members:\n");
	for (int i = 1; i <= 9; i++)
		o += (size_t)snprintf(members + o, sizeof members - o,
				      "    - {id: %d, name: m%d, region: eu-west, raft: 127.0.0.1:%d, api: 127.0.0.1:%d}\n",
				      i, i, 7000 + i, 8000 + i);
	yaml = edit(MINIMAL,
		    "  members:\n    - {id: 7, name: a, region: eu-west, raft: 127.0.0.1:7001, api: 127.0.0.1:8001}\n",
		    members);
	assert_int_equal(load(yaml, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:3: cluster.members: must have at most 8 entries, got 9");
	free(yaml);
}

/* Exactly the maximum number of regions is fine; one more is not. */
static void seventeen_regions_are_refused(void **state)
{
	char yaml[8192];
	struct baton_config c;
	char err[512] = "";
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(yaml + o, sizeof yaml - o, "cluster:\n  id: demo\n  members:\n");
	for (int i = 1; i <= 8; i++)
		o += (size_t)snprintf(yaml + o, sizeof yaml - o,
				      "    - {id: %d, name: m%d, region: r%d, raft: 127.0.0.1:%d, api: 127.0.0.1:%d}\n",
				      i, i, i, 7000 + i, 8000 + i);
	o += (size_t)snprintf(yaml + o, sizeof yaml - o, "  regions:\n");
	for (int i = 1; i <= 17; i++)
		o += (size_t)snprintf(yaml + o, sizeof yaml - o, "    - name: r%d\n", i);
	snprintf(yaml + o, sizeof yaml - o, "node:\n  id: 1\n");
	assert_int_equal(load(yaml, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:12: cluster.regions: must have at most 16 entries, got 17");
}

/* ------------------------------------------------------------------------ */
/* Keys */

/* A misspelt key is an error with a suggestion, wherever it is. */
static void unknown_keys_are_errors_with_a_suggestion(void **state)
{
	static const struct edit_case cases[] = {
		{ "raft key", "heartbeat_ms: 100", "hearbeat_ms: 100",
		  "test.yaml:6: cluster.raft.hearbeat_ms: unknown key (did you mean 'heartbeat_ms'?)" },
		{ "top level", "cluster:\n", "clustr:\n",
		  "test.yaml:1: clustr: unknown key (did you mean 'cluster'?)" },
		{ "list entry", "region: eu-west", "regoin: eu-west",
		  "test.yaml:13: cluster.members[0].regoin: unknown key (did you mean 'region'?)" },
		{ "nothing close", "  log_level: info", "  colour: blue",
		  "test.yaml:37: node.colour: unknown key" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* A required key that is missing or null is reported at its map. */
static void required_keys_must_be_present(void **state)
{
	static const struct edit_case cases[] = {
		{ "cluster.id missing", "  id: demo\n", "",
		  "test.yaml:1: cluster.id: is required" },
		{ "member api missing", "      api: 127.0.0.1:8002\n", "",
		  "test.yaml:16: cluster.members[1].api: is required" },
		{ "member raft null", "      raft: 127.0.0.1:7001\n", "      raft:\n",
		  "test.yaml:14: cluster.members[0].raft: is required" },
		{ "node section missing",
		  "node:\n  id: 1\n  data_dir: /var/lib/baton\n  log_level: info\n  api_listen: \"\"\n  raft_bind: \"\"\n",
		  "", "test.yaml:1: node: is required" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* Duplicate keys are refused at the second one, with the line of the first. */
static void duplicate_keys_are_refused(void **state)
{
	static const struct edit_case cases[] = {
		{ "in cluster", "  generation: 1\n", "  id: other\n",
		  "test.yaml:3: cluster.id: duplicate key (first at line 2)" },
		{ "in a list entry", "      api: 127.0.0.1:8002\n", "      name: x\n",
		  "test.yaml:20: cluster.members[1].name: duplicate key (first at line 17)" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* ------------------------------------------------------------------------ */
/* Members, regions, groups, node */

static void members_must_be_unique(void **state)
{
	static const struct edit_case cases[] = {
		{ "id", "    - id: 2\n", "    - id: 1\n",
		  "test.yaml:16: cluster.members[1].id: duplicate member id 1 (also cluster.members[0], line 11)" },
		{ "name", "name: us-east-1", "name: eu-west-1",
		  "test.yaml:17: cluster.members[1].name: duplicate member name 'eu-west-1' (also cluster.members[0], line 12)" },
		{ "raft address", "raft: 127.0.0.1:7002", "raft: 127.0.0.1:7001",
		  "test.yaml:19: cluster.members[1].raft: address 127.0.0.1:7001 is already used by cluster.members[0].raft (line 14)" },
		{ "api address", "api: 127.0.0.1:8003", "api: 127.0.0.1:8002",
		  "test.yaml:25: cluster.members[2].api: address 127.0.0.1:8002 is already used by cluster.members[1].api (line 20)" },
		{ "api equal to a raft address", "api: 127.0.0.1:8002", "api: 127.0.0.1:7001",
		  "test.yaml:20: cluster.members[1].api: address 127.0.0.1:7001 is already used by cluster.members[0].raft (line 14)" },
		{ "same member", "api: 127.0.0.1:8001", "api: 127.0.0.1:7001",
		  "test.yaml:15: cluster.members[0].api: address 127.0.0.1:7001 is already used by cluster.members[0].raft (line 14)" },
		{ "wildcard", "raft: 127.0.0.1:7002", "raft: 0.0.0.0:7002",
		  "test.yaml:19: cluster.members[1].raft: must be an address the other members can connect to, got '0.0.0.0:7002' (to listen on all interfaces set node.raft_bind)" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

static void member_addresses_must_be_ipv4_and_port(void **state)
{
	static const struct edit_case cases[] = {
		{ "host name", "raft: 127.0.0.1:7001", "raft: localhost:7001",
		  "test.yaml:14: cluster.members[0].raft: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got 'localhost:7001'" },
		{ "ipv6", "raft: 127.0.0.1:7001", "raft: \"[::1]:7001\"",
		  "test.yaml:14: cluster.members[0].raft: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '[::1]:7001'" },
		{ "no port", "api: 127.0.0.1:8001", "api: 127.0.0.1",
		  "test.yaml:15: cluster.members[0].api: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '127.0.0.1'" },
		{ "port 0", "api: 127.0.0.1:8001", "api: 127.0.0.1:0",
		  "test.yaml:15: cluster.members[0].api: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '127.0.0.1:0'" },
		{ "port too big", "api: 127.0.0.1:8001", "api: 127.0.0.1:65536",
		  "test.yaml:15: cluster.members[0].api: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '127.0.0.1:65536'" },
		{ "signed port", "api: 127.0.0.1:8001", "api: \"127.0.0.1:+8001\"",
		  "test.yaml:15: cluster.members[0].api: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '127.0.0.1:+8001'" },
		{ "empty", "api: 127.0.0.1:8001", "api: \"\"",
		  "test.yaml:15: cluster.members[0].api: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got ''" },
		{ "bad override", "raft_bind: \"\"", "raft_bind: \"::7001\"",
		  "test.yaml:39: node.raft_bind: must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got '::7001'" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

static void regions_and_member_regions_must_match(void **state)
{
	static const struct edit_case cases[] = {
		{ "region with no members", "      region: us-east\n", "      region: eu-west\n",
		  "test.yaml:29: cluster.regions[1].name: region 'us-east' has no members; each region needs at least one member that is not a witness" },
		{ "member region unknown", "      region: us-east\n", "      region: us-west\n",
		  "test.yaml:18: cluster.members[1].region: 'us-west' is not in cluster.regions (eu-west, us-east)" },
		{ "witness with a region", "      witness: true\n",
		  "      witness: true\n      region: eu-west\n",
		  "test.yaml:24: cluster.members[2].region: a witness has no region; remove the key or set witness: false" },
		{ "member without region", "      region: eu-west\n", "",
		  "test.yaml:11: cluster.members[0].region: is required (unless witness: true)" },
		{ "duplicate region", "    - name: us-east\n", "    - name: eu-west\n",
		  "test.yaml:29: cluster.regions[1].name: duplicate region 'eu-west' (also cluster.regions[0], line 27)" },
		{ "group region unknown", "initial_active: eu-west", "initial_active: ap-south",
		  "test.yaml:33: cluster.groups[0].initial_active: 'ap-south' is not in cluster.regions (eu-west, us-east)" },
		{ "duplicate group", "      initial_active: eu-west\n",
		  "      initial_active: eu-west\n    - name: default\n      initial_active: us-east\n",
		  "test.yaml:34: cluster.groups[1].name: duplicate group 'default' (also cluster.groups[0], line 32)" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* A witness does not make a region usable: it needs a member that can act. */
static void region_whose_only_member_is_a_witness_is_refused(void **state)
{
	static const struct edit_case cases[] = {
		{ "witness only", "      region: us-east\n      raft: 127.0.0.1:7002\n",
		  "      witness: true\n      raft: 127.0.0.1:7002\n",
		  "test.yaml:29: cluster.regions[1].name: region 'us-east' has no members; each region needs at least one member that is not a witness" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* node.id must name a member, and the message lists the ones there are. */
static void node_id_must_be_a_member(void **state)
{
	static const struct edit_case cases[] = {
		{ "not a member", "node:\n  id: 1", "node:\n  id: 9",
		  "test.yaml:35: node.id: 9 is not a member id (valid ids: 1, 2, 3)" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* The leader must heartbeat at least five times per election timeout. */
static void heartbeat_times_five_must_fit_the_election_timeout(void **state)
{
	static const struct edit_case cases[] = {
		{ "300 vs 1000", "heartbeat_ms: 100", "heartbeat_ms: 300",
		  "test.yaml:6: cluster.raft.heartbeat_ms: must be at most election_timeout_ms/5 (200), got 300" },
		{ "1s vs 1000", "heartbeat_ms: 100", "heartbeat_ms: 1s",
		  "test.yaml:6: cluster.raft.heartbeat_ms: must be at most election_timeout_ms/5 (200), got 1000" },
	};
	struct baton_config c;
	char err[512] = "";
	char *y = edit(BASE, "heartbeat_ms: 100", "heartbeat_ms: 200");

	(void)state;
	RUN_EDIT_CASES(cases);
	assert_int_equal(load(y, &c, err, sizeof err), 0); /* exactly a fifth is fine */
	free(y);
}

/* ------------------------------------------------------------------------ */
/* YAML features and files */

static void anchors_aliases_and_tags_are_refused(void **state)
{
	static const struct edit_case cases[] = {
		{ "anchor", "  raft:\n", "  raft: &timing\n",
		  "test.yaml:4:9: anchors and aliases are not supported (anchor '&timing'); write the value out" },
		{ "alias", "heartbeat_ms: 100", "heartbeat_ms: *hb",
		  "test.yaml:6:19: anchors and aliases are not supported (alias '*hb'); write the value out" },
		{ "tag", "id: demo", "id: !!str demo",
		  "test.yaml:2:7: tags are not supported (tag 'tag:yaml.org,2002:str')" },
	};

	(void)state;
	RUN_EDIT_CASES(cases);
}

/* A merge key is an alias too; it must not sneak values in. */
static void merge_keys_are_refused(void **state)
{
	static const char yaml[] = "a: &x {b: 1}\nc:\n  <<: *x\n";
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load(yaml, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err,
			    "test.yaml:1:4: anchors and aliases are not supported (anchor '&x'); write the value out");
}

static void syntax_errors_name_line_and_column(void **state)
{
	struct baton_config c;
	char err[512] = "";
	char *y = edit(BASE, "    heartbeat_ms: 100\n", "    heartbeat_ms: [100\n");

	(void)state;
	assert_int_equal(load(y, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:7:23: did not find expected ',' or ']' (while parsing a flow sequence at line 6)");
	free(y);
}

static void a_second_document_is_refused(void **state)
{
	struct baton_config c;
	char err[512] = "";
	char *y = edit(BASE, "node:\n", "---\nnode:\n");

	(void)state;
	assert_int_equal(load(y, &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:34:1: more than one YAML document in the file");
	free(y);
}

static void empty_file_is_refused(void **state)
{
	static const char *const empties[] = { "", "\n\n", "# only a comment\n", "---\n", "~\n" };

	(void)state;
	for (size_t i = 0; i < BATON_ARRAY_SIZE(empties); i++) {
		struct baton_config c;
		char err[512] = "";

		assert_int_equal(load(empties[i], &c, err, sizeof err), -EINVAL);
		assert_string_equal(err,
				    "test.yaml:1: the file is empty; expected the sections 'cluster' and 'node'");
	}
}

static void top_level_must_be_a_map(void **state)
{
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(load("- cluster\n- node\n", &c, err, sizeof err), -EINVAL);
	assert_string_equal(err,
			    "test.yaml:1: the top level must be a map with the sections 'cluster' and 'node', got a list");
}

static void missing_file_names_the_path_and_errno(void **state)
{
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_int_equal(baton_config_load("/nonexistent/baton.yaml", &c, err, sizeof err), -ENOENT);
	assert_string_equal(err, "/nonexistent/baton.yaml: cannot open: No such file or directory");
}

/* A file on disk loads like the same text, and its errors carry its path. */
static void file_on_disk_loads_and_errors_carry_its_path(void **state)
{
	char path[] = "/tmp/baton-test-config-XXXXXX";
	struct baton_config c;
	char err[512] = "";
	char *bad = edit(BASE, "heartbeat_ms: 100", "heartbeat_ms: 300");
	char want[600];
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(BASE, f);
	fclose(f);
	assert_int_equal(baton_config_load(path, &c, err, sizeof err), 0);
	assert_ptr_equal(c.self, &c.cluster.members[0]);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(bad, f);
	fclose(f);
	assert_int_equal(baton_config_load(path, &c, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want,
		 "%s:6: cluster.raft.heartbeat_ms: must be at most election_timeout_ms/5 (200), got 300",
		 path);
	assert_string_equal(err, want);
	unlink(path);
	free(bad);
}

static void files_over_one_mebibyte_are_refused(void **state)
{
	size_t len = BATON_YAML_MAX_BYTES + 1;
	char *big = malloc(len);
	struct baton_config c;
	char err[512] = "";

	(void)state;
	assert_non_null(big);
	memset(big, '#', len);
	assert_int_equal(baton_config_load_string("big.yaml", big, len, &c, err, sizeof err), -EFBIG);
	assert_string_equal(err, "big.yaml: file too large (1048577 bytes, limit 1048576)");
	free(big);
}

/* A failed load leaves the caller's struct alone. */
static void failed_load_does_not_touch_the_result(void **state)
{
	struct baton_config c, before;
	char err[512] = "";
	char *y = edit(BASE, "node:\n  id: 1", "node:\n  id: 9");

	(void)state;
	memset(&c, 0x5a, sizeof c);
	memcpy(&before, &c, sizeof c);
	assert_int_equal(load(y, &c, err, sizeof err), -EINVAL);
	assert_memory_equal(&c, &before, sizeof c);
	free(y);
}

/* A tiny error buffer gets a truncated, terminated message. */
static void short_error_buffer_is_terminated(void **state)
{
	struct baton_config c;
	char err[12];

	(void)state;
	memset(err, 'x', sizeof err);
	assert_int_equal(load("", &c, err, sizeof err), -EINVAL);
	assert_string_equal(err, "test.yaml:1");
	assert_int_equal(load("", &c, NULL, 0), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Cluster hash and dump */

/* BASE written differently: flow style, comments, other key order, quotes,
 * defaults spelt out or left out, durations with units, another node section. */
static const char BASE_REFORMATTED[] =
	"# the same cluster as BASE\n"
	"node: {id: 2, log_level: debug}   # another node; not part of the hash\n"
	"cluster:\n"
	"  regions: [{name: eu-west}, {priority: 50, name: \"us-east\"}]\n"
	"  members:\n"
	"  - {name: eu-west-1, id: 1, api: '127.0.0.1:8001', raft: 127.0.0.1:7001, region: eu-west}\n"
	"  - api: 127.0.0.1:8002\n"
	"    raft: 127.0.0.1:7002\n"
	"    region: us-east\n"
	"    id: 2\n"
	"    name: us-east-1\n"
	"    witness: false\n"
	"  - {id: 3, name: witness, witness: true, raft: 127.0.0.1:7003, api: 127.0.0.1:8003}\n"
	"  raft:\n"
	"    connect_retry_ms: 200ms\n"
	"    heartbeat_ms: 100\n"
	"    election_timeout_ms: 1s\n"
	"  id: 'demo'\n";

static void hash_ignores_formatting_comments_key_order_and_node(void **state)
{
	char a[65], b[65], d[65];
	char *no_groups = edit(BASE, "  groups:\n    - name: default\n      initial_active: eu-west\n", "");

	(void)state;
	hash_of(BASE, a);
	hash_of(BASE_REFORMATTED, b);
	hash_of(no_groups, d);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_equal(a, b);
	assert_string_equal(a, d); /* the default group equals the one spelt out */
	free(no_groups);
}

/* Any change of a value in the cluster section changes the hash. */
static void hash_changes_with_every_cluster_value(void **state)
{
	static const struct {
		const char *find, *repl;
	} changes[] = {
		{ "id: demo", "id: demo2" },
		{ "generation: 1", "generation: 2" },
		{ "election_timeout_ms: 1000", "election_timeout_ms: 1001" },
		{ "heartbeat_ms: 100", "heartbeat_ms: 101" },
		{ "snapshot_threshold: 128", "snapshot_threshold: 129" },
		{ "snapshot_trailing: 64", "snapshot_trailing: 65" },
		{ "connect_retry_ms: 200", "connect_retry_ms: 201" },
		{ "- id: 2", "- id: 4" },
		{ "name: us-east-1", "name: us-east-2" },
		{ "raft: 127.0.0.1:7002", "raft: 127.0.0.2:7002" },
		{ "api: 127.0.0.1:8002", "api: 127.0.0.1:8012" },
		{ "      region: us-east\n", "      region: us-east\n      witness: false\n" }, /* no change */
		{ "priority: 50", "priority: 51" },
		{ "initial_active: eu-west", "initial_active: us-east" },
		{ "- name: default", "- name: main" },
		{ "    - name: eu-west\n      priority: 100\n    - name: us-east\n      priority: 50\n",
		  "    - name: us-east\n      priority: 50\n    - name: eu-west\n      priority: 100\n" },
	};
	char base[65];
	int failures = 0;

	(void)state;
	hash_of(BASE, base);
	for (size_t i = 0; i < BATON_ARRAY_SIZE(changes); i++) {
		char h[65];
		char *y = edit(BASE, changes[i].find, changes[i].repl);
		bool same_expected = strstr(changes[i].repl, "witness: false") != NULL;

		hash_of(y, h);
		if ((strcmp(h, base) == 0) != same_expected) {
			print_message("change '%s' -> '%s': hash %s\n", changes[i].find,
				      changes[i].repl, same_expected ? "changed" : "did not change");
			failures++;
		}
		free(y);
	}
	assert_int_equal(failures, 0);
}

/* A witness flag and member ordering are part of the hash too. */
static void hash_changes_when_a_member_becomes_a_witness(void **state)
{
	static const char a_yaml[] =
		"cluster:\n  id: d\n  members:\n"
		"    - {id: 1, name: a, region: r, raft: 127.0.0.1:7001, api: 127.0.0.1:8001}\n"
		"    - {id: 2, name: b, region: r, raft: 127.0.0.1:7002, api: 127.0.0.1:8002}\n"
		"  regions: [{name: r}]\nnode: {id: 1}\n";
	static const char b_yaml[] =
		"cluster:\n  id: d\n  members:\n"
		"    - {id: 1, name: a, region: r, raft: 127.0.0.1:7001, api: 127.0.0.1:8001}\n"
		"    - {id: 2, name: b, witness: true, raft: 127.0.0.1:7002, api: 127.0.0.1:8002}\n"
		"  regions: [{name: r}]\nnode: {id: 1}\n";
	char a[65], b[65];

	(void)state;
	hash_of(a_yaml, a);
	hash_of(b_yaml, b);
	assert_string_not_equal(a, b);
}

/* The dump is YAML that loads back to the same configuration. */
static void dump_loads_back_to_the_same_config(void **state)
{
	struct baton_config c, back;
	char err[512] = "", h1[65], h2[65];
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f;

	(void)state;
	assert_int_equal(load(BASE, &c, err, sizeof err), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	baton_config_dump(&c, f);
	fclose(f);
	assert_non_null(strstr(text, "  raft:\n    election_timeout_ms: 1000\n"));
	assert_non_null(strstr(text, "    - id: 3\n      name: \"witness\"\n"));
	assert_int_equal(baton_config_load_string("dump.yaml", text, len, &back, err, sizeof err), 0);
	baton_config_cluster_hash(&c.cluster, h1);
	baton_config_cluster_hash(&back.cluster, h2);
	assert_string_equal(h1, h2);
	assert_non_null(strstr(text, h1));
	assert_string_equal(back.node.api_listen, c.node.api_listen);
	assert_int_equal(back.node.log_level, c.node.log_level);

	f = open_memstream(&text2, &len2);
	assert_non_null(f);
	baton_config_dump(&back, f);
	fclose(f);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
}

/* ------------------------------------------------------------------------ */
/* Environment variables */

static const char ENV_CONFIG[] =
	"cluster:\n"                                                                   /*  1 */
	"  id: demo\n"                                                                 /*  2 */
	"  members:\n"                                                                 /*  3 */
	"    - {id: 7, name: a, region: eu-west, raft: 127.0.0.1:7001,\n"              /*  4 */
	"       api: \"${BATON_TEST_API:-127.0.0.1:8001}\"}\n"                        /*  5 */
	"  regions:\n"                                                                 /*  6 */
	"    - name: eu-west\n"                                                        /*  7 */
	"      vars: {db: \"${BATON_TEST_UNSET:-10.0.0.9}\", note: \"$${X} costs $5\"}\n" /*  8 */
	"  plan:\n"                                                                    /*  9 */
	"    - name: hook\n"                                                           /* 10 */
	"      driver: exec\n"                                                         /* 11 */
	"      params: {command: /bin/sh, arg_1: \"-c\", arg_2: \"echo ${BATON_FROM} {to.db}\"}\n" /* 12 */
	"node:\n"                                                                      /* 13 */
	"  id: 7\n"                                                                    /* 14 */
	"  data_dir: ${BATON_TEST_DIR}\n";                                             /* 15 */

/* ${VAR} and ${VAR:-default} are substituted in values, $${ is a literal ${,
 * driver parameters are taken verbatim, and the dump loads back the same. */
static void environment_variables_are_substituted(void **state)
{
	struct baton_config c, back;
	char err[512] = "", h1[65], h2[65];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(setenv("BATON_TEST_DIR", "/srv/baton", 1), 0);
	assert_int_equal(unsetenv("BATON_TEST_API"), 0);
	assert_int_equal(unsetenv("BATON_TEST_UNSET"), 0);
	if (load(ENV_CONFIG, &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.node.data_dir, "/srv/baton");
	assert_string_equal(c.cluster.members[0].api, "127.0.0.1:8001");
	assert_string_equal(baton_kv_get(&c.cluster.regions[0].vars, "db"), "10.0.0.9");
	assert_string_equal(baton_kv_get(&c.cluster.regions[0].vars, "note"), "${X} costs $5");
	assert_string_equal(baton_kv_get(&c.cluster.plan[0].params, "arg_2"),
			    "echo ${BATON_FROM} {to.db}");

	assert_int_equal(setenv("BATON_TEST_API", "127.0.0.1:9001", 1), 0);
	assert_int_equal(load(ENV_CONFIG, &c, err, sizeof err), 0);
	assert_string_equal(c.cluster.members[0].api, "127.0.0.1:9001");
	assert_string_equal(c.node.api_listen, "127.0.0.1:9001");

	f = open_memstream(&text, &len);
	assert_non_null(f);
	baton_config_dump(&c, f);
	fclose(f);
	assert_non_null(strstr(text, "note: \"$${X} costs $5\""));
	assert_non_null(strstr(text, "arg_2: \"echo ${BATON_FROM} {to.db}\""));
	if (baton_config_load_string("dump.yaml", text, len, &back, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_string_equal(baton_kv_get(&back.cluster.regions[0].vars, "note"), "${X} costs $5");
	baton_config_cluster_hash(&c.cluster, h1);
	baton_config_cluster_hash(&back.cluster, h2);
	assert_string_equal(h1, h2);
	free(text);
	assert_int_equal(unsetenv("BATON_TEST_API"), 0);
	assert_int_equal(unsetenv("BATON_TEST_DIR"), 0);
}

static void environment_variable_errors_name_line_and_key(void **state)
{
	static const struct {
		const char *find, *repl, *want;
	} cases[] = {
		{ "${BATON_TEST_DIR}", "${BATON_TEST_UNSET}",
		  "test.yaml:15: node.data_dir: environment variable BATON_TEST_UNSET is not set "
		  "(write ${BATON_TEST_UNSET:-default} to give a default)" },
		{ "${BATON_TEST_DIR}", "/x/${BATON_TEST_DIR",
		  "test.yaml:15: node.data_dir: bad environment variable reference '${BATON_TEST_DIR' "
		  "(write ${NAME} or ${NAME:-default}, or $${ for a literal ${)" },
		{ "${BATON_TEST_DIR}", "${1X}",
		  "test.yaml:15: node.data_dir: bad environment variable reference '${1X}' "
		  "(write ${NAME} or ${NAME:-default}, or $${ for a literal ${)" },
		{ "${BATON_TEST_DIR}", "${BATON_TEST_DIR:+x}",
		  "test.yaml:15: node.data_dir: bad environment variable reference '${BATON_TEST_DIR:+x}' "
		  "(write ${NAME} or ${NAME:-default}, or $${ for a literal ${)" },
		{ "${BATON_TEST_DIR}", "${BATON_TEST_REL}",
		  "test.yaml:15: node.data_dir: must be an absolute path, got 'relative' "
		  "(after environment variable substitution)" },
		{ "${BATON_TEST_UNSET:-10.0.0.9}", "${BATON_TEST_UNSET}",
		  "test.yaml:8: cluster.regions[0].vars.db: environment variable BATON_TEST_UNSET is not set "
		  "(write ${BATON_TEST_UNSET:-default} to give a default)" },
		{ "${BATON_TEST_API:-127.0.0.1:8001}", "${BATON_TEST_EMPTY:-127.0.0.1:8001}:1",
		  "test.yaml:5: cluster.members[0].api: must be an IPv4 address and port like "
		  "127.0.0.1:7001 (no host names, no IPv6), got '127.0.0.1:8001:1' "
		  "(after environment variable substitution)" },
	};
	int failures = 0;

	(void)state;
	assert_int_equal(setenv("BATON_TEST_DIR", "/srv/baton", 1), 0);
	assert_int_equal(setenv("BATON_TEST_REL", "relative", 1), 0);
	assert_int_equal(setenv("BATON_TEST_EMPTY", "", 1), 0);
	assert_int_equal(unsetenv("BATON_TEST_UNSET"), 0);
	for (size_t i = 0; i < BATON_ARRAY_SIZE(cases); i++) {
		struct baton_config c;
		char err[512] = "";
		char *yaml = edit(ENV_CONFIG, cases[i].find, cases[i].repl);
		int rv = load(yaml, &c, err, sizeof err);

		if (rv != -EINVAL || strcmp(err, cases[i].want) != 0) {
			print_message("case %zu: rv %d\n  want: %s\n  got:  %s\n", i, rv,
				      cases[i].want, err);
			failures++;
		}
		free(yaml);
	}
	assert_int_equal(failures, 0);
	unsetenv("BATON_TEST_DIR");
	unsetenv("BATON_TEST_REL");
	unsetenv("BATON_TEST_EMPTY");
}

/* ------------------------------------------------------------------------ */
/* The key table and the documentation */

/* Storage in the table fits the bounds in the table, and parents come first. */
/* An unfence step starts only with its whole timeout of lease left, so one
 * longer than half the lease could never start; one that fits loads. */
static void unfence_steps_must_fit_in_half_the_lease(void **state)
{
	static const char step[] =
		"      priority: 50\n"
		"      unfence:\n"
		"        - {name: own-db, driver: exec, params: {command: /bin/true}, attempt_timeout_ms: 700, timeout_ms: %s}\n";
	struct baton_config *c = malloc(sizeof *c);
	char err[512] = "", extra[256], *yaml, *with_lease;

	(void)state;
	assert_non_null(c);
	for (int i = 0; i < 2; i++) {
		snprintf(extra, sizeof extra, step, i == 0 ? "750" : "751");
		yaml = edit(BASE, "      priority: 50\n", extra);
		with_lease = edit(yaml, "  groups:\n", "  lease:\n    ttl_ms: 1500\n  groups:\n");
		if (i == 0) {
			if (load(with_lease, c, err, sizeof err) != 0)
				fail_msg("%s", err);
			assert_int_equal(c->cluster.regions[1].n_unfence, 1);
		} else {
			assert_int_equal(load(with_lease, c, err, sizeof err), -EINVAL);
			assert_non_null(strstr(err, "test.yaml:32: cluster.regions[1].unfence[0]: "));
			assert_non_null(strstr(err, "timeout_ms 751 is more than half of cluster.lease.ttl_ms (1500)"));
		}
		free(yaml);
		free(with_lease);
	}
	free(c);
}

/* A step error in a nested list names the line of that step's key, not the
 * line of the same step number in another region's list. */
static void step_errors_in_nested_lists_name_their_own_line(void **state)
{
	struct baton_config *c = malloc(sizeof *c);
	char err[512] = "", *a, *b;

	(void)state;
	assert_non_null(c);
	a = edit(BASE, "      priority: 100\n",
		 "      priority: 100\n"                      /* 28 */
		 "      self_fence:\n"                        /* 29 */
		 "        - name: a\n"                        /* 30 */
		 "          driver: exec\n"                   /* 31 */
		 "          params: {command: /bin/true}\n"); /* 32 */
	b = edit(a, "      priority: 50\n",
		 "      priority: 50\n"                       /* 34 */
		 "      self_fence:\n"                        /* 35 */
		 "        - name: b\n"                        /* 36 */
		 "          driver: nosuch\n");               /* 37 */
	assert_int_equal(load(b, c, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "test.yaml:37: cluster.regions[1].self_fence[0]: unknown driver 'nosuch'"));
	free(a);
	free(b);
	free(c);
}

static void key_table_is_consistent(void **state)
{
	size_t n;
	const struct baton_conftab_key *keys = baton_config_keys(&n);

	(void)state;
	assert_true(n > 20);
	for (size_t i = 0; i < n; i++) {
		const struct baton_conftab_key *k = &keys[i];
		const char *dot = strrchr(k->path, '.');

		assert_non_null(k->doc);
		assert_true(strlen(k->doc) > 5);
		assert_false(k->required && k->def != NULL);
		if (dot != NULL) {
			char parent[128];
			size_t plen = (size_t)(dot - k->path);
			bool found = false;

			memcpy(parent, k->path, plen);
			parent[plen] = '\0';
			if (plen > 2 && strcmp(parent + plen - 2, "[]") == 0)
				parent[plen - 2] = '\0';
			for (size_t j = 0; j < i && !found; j++)
				found = strcmp(keys[j].path, parent) == 0;
			if (!found)
				fail_msg("%s: parent %s is not declared before it", k->path, parent);
		}
		switch (k->type) {
		case BATON_CONF_U64:
		case BATON_CONF_DURATION:
			assert_true(k->size == 8 || k->max <= (UINT64_C(1) << (8 * k->size)) - 1);
			assert_true(k->min <= k->max);
			break;
		case BATON_CONF_NAME:
		case BATON_CONF_PATH:
		case BATON_CONF_ADDR:
			assert_true(k->max < k->size);
			break;
		case BATON_CONF_LIST:
			assert_true(k->max * k->entry_size <= k->size);
			assert_true(k->max <= 16);
			break;
		case BATON_CONF_CHOICE:
			assert_non_null(k->choices);
			assert_int_equal(k->size, sizeof(int));
			break;
		default:
			break;
		}
	}
}

static char *read_doc(void)
{
	FILE *f = fopen(BATON_CONFIG_DOC, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", BATON_CONFIG_DOC);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* docs/configuration.md mentions every key the code accepts. */
static void doc_mentions_every_key(void **state)
{
	size_t n;
	const struct baton_conftab_key *keys = baton_config_keys(&n);
	char *doc = read_doc();
	int missing = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char quoted[160];

		snprintf(quoted, sizeof quoted, "`%s`", keys[i].path);
		if (strstr(doc, quoted) == NULL) {
			print_message("docs/configuration.md does not mention %s\n", quoted);
			missing++;
		}
	}
	free(doc);
	assert_int_equal(missing, 0);
}

/* The generated reference in the doc is what the table says today. */
static void doc_reference_matches_the_table(void **state)
{
	char *doc = read_doc();
	char *gen = NULL;
	size_t genlen = 0;
	const char *begin, *end;
	FILE *f;

	(void)state;
	f = open_memstream(&gen, &genlen);
	assert_non_null(f);
	baton_config_write_reference(f);
	fclose(f);
	begin = strstr(doc, "<!-- BEGIN KEY REFERENCE");
	assert_non_null(begin);
	begin = strchr(begin, '\n') + 1;
	end = strstr(begin, "<!-- END KEY REFERENCE -->");
	assert_non_null(end);
	if ((size_t)(end - begin) != genlen || memcmp(begin, gen, genlen) != 0)
		fail_msg("docs/configuration.md is out of date: run `ninja -C <build> config-doc`");
	free(gen);
	free(doc);
}

/* ------------------------------------------------------------------------ */
/* lib/yamltree.c on its own */

static struct baton_yaml_doc *parse_ok(const char *text)
{
	struct baton_yaml_doc *doc = NULL;
	char err[512] = "";

	if (baton_yaml_parse("t.yaml", text, strlen(text), &doc, err, sizeof err) != 0)
		fail_msg("parse failed: %s", err);
	return doc;
}

/* Nodes remember 1-based lines and columns; keys keep file order. */
static void yaml_nodes_carry_lines_and_columns(void **state)
{
	struct baton_yaml_doc *doc = parse_ok("a: 1\nb:\n  - x\n  -   y\n");
	const struct baton_yaml_pair *b;

	(void)state;
	assert_int_equal(doc->root->kind, BATON_YAML_MAP);
	assert_int_equal(doc->root->n, 2);
	assert_string_equal(doc->root->pairs[0].key, "a");
	b = baton_yaml_map_find(doc->root, "b");
	assert_non_null(b);
	assert_int_equal(b->line, 2);
	assert_int_equal(b->col, 1);
	assert_int_equal(b->value->kind, BATON_YAML_LIST);
	assert_int_equal(b->value->n, 2);
	assert_string_equal(b->value->items[1]->str, "y");
	assert_int_equal(b->value->items[1]->line, 4);
	assert_int_equal(b->value->items[1]->col, 7);
	assert_null(baton_yaml_map_find(doc->root, "c"));
	baton_yaml_free(doc);
}

/* 32 levels of nesting parse; 33 do not. */
static void yaml_nesting_is_limited_to_32(void **state)
{
	char text[256];
	struct baton_yaml_doc *doc = NULL;
	char err[512] = "";
	int o = 0;

	(void)state;
	for (int i = 0; i < 32; i++)
		text[o++] = '[';
	for (int i = 0; i < 32; i++)
		text[o++] = ']';
	text[o] = '\0';
	assert_int_equal(baton_yaml_parse("t.yaml", text, strlen(text), &doc, err, sizeof err), 0);
	baton_yaml_free(doc);

	o = 0;
	for (int i = 0; i < 33; i++)
		text[o++] = '[';
	for (int i = 0; i < 33; i++)
		text[o++] = ']';
	text[o] = '\0';
	doc = NULL;
	assert_int_equal(baton_yaml_parse("t.yaml", text, strlen(text), &doc, err, sizeof err),
			 -EINVAL);
	assert_null(doc);
	assert_string_equal(err, "t.yaml:1:33: nesting deeper than 32 levels");
}

/* Keys must be scalars; the duplicate-key message has the full path. */
static void yaml_refuses_complex_and_duplicate_keys(void **state)
{
	struct baton_yaml_doc *doc = NULL;
	char err[512] = "";
	static const char dup[] = "a:\n  - b: 1\n    c: 2\n    b: 3\n";
	static const char complex[] = "? [x]\n: 1\n";

	(void)state;
	assert_int_equal(baton_yaml_parse("t.yaml", dup, strlen(dup), &doc, err, sizeof err), -EINVAL);
	assert_string_equal(err, "t.yaml:4: a[0].b: duplicate key (first at line 2)");
	assert_int_equal(baton_yaml_parse("t.yaml", complex, strlen(complex), &doc, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:1:3: map keys must be plain scalars, not a list");
}

/* Invalid UTF-8 is a reader error with a position. */
static void yaml_reports_invalid_utf8_with_position(void **state)
{
	static const char bad[] = "a: 1\nb: \xff\n";
	struct baton_yaml_doc *doc = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(baton_yaml_parse("t.yaml", bad, strlen(bad), &doc, err, sizeof err), -EINVAL);
	assert_string_equal(err, "t.yaml:2:4: invalid leading UTF-8 octet (byte 0xff)");
}

/* Getters: units, bounds, charset description, NUL bytes, choices. */
static void yaml_getters_parse_and_explain(void **state)
{
	struct baton_yaml_doc *doc = parse_ok(
		"d: 1h\nz: 0\nn: \"a\\0b\"\ns: \"Hi there\"\nc: maybe\ne: 18446744073709551616ms\n");
	const struct baton_yaml_node *d = baton_yaml_map_find(doc->root, "d")->value;
	const struct baton_yaml_node *z = baton_yaml_map_find(doc->root, "z")->value;
	const struct baton_yaml_node *n = baton_yaml_map_find(doc->root, "n")->value;
	const struct baton_yaml_node *s = baton_yaml_map_find(doc->root, "s")->value;
	const struct baton_yaml_node *c = baton_yaml_map_find(doc->root, "c")->value;
	const struct baton_yaml_node *e = baton_yaml_map_find(doc->root, "e")->value;
	static const char *const words[] = { "yes", "no" };
	char err[512] = "", out[64];
	uint64_t v;
	unsigned idx;

	(void)state;
	assert_int_equal(baton_yaml_get_duration_ms(doc, d, "d", 0, UINT64_MAX, &v, err, sizeof err), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(baton_yaml_get_u64(doc, z, "z", 0, 10, &v, err, sizeof err), 0);
	assert_int_equal(v, 0);
	assert_int_equal(baton_yaml_get_duration_ms(doc, e, "e", 0, UINT64_MAX, &v, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:6: e: must be at most 18446744073709551615 (ms), got 18446744073709551616ms");
	assert_int_equal(baton_yaml_get_str(doc, n, "n", 0, 10, NULL, out, sizeof out, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:3: n: must be a string, got a value with a NUL byte");
	assert_int_equal(baton_yaml_get_str(doc, s, "s", 0, 63, "abcdefghijklmnopqrstuvwxyz ", out,
					    sizeof out, err, sizeof err),
			 -EINVAL);
	assert_string_equal(err, "t.yaml:4: s: must contain only [a-z ], got 'Hi there'");
	assert_int_equal(baton_yaml_get_str(doc, s, "s", 0, 63, NULL, out, sizeof out, err, sizeof err), 0);
	assert_string_equal(out, "Hi there");
	assert_int_equal(baton_yaml_get_choice(doc, c, "c", words, 2, &idx, err, sizeof err), -EINVAL);
	assert_string_equal(err, "t.yaml:5: c: must be one of yes, no, got 'maybe'");
	baton_yaml_free(doc);
}

static void yaml_suggests_only_close_words(void **state)
{
	static const char *const cands[] = { "heartbeat_ms", "election_timeout_ms", "id" };

	(void)state;
	assert_string_equal(baton_yaml_suggest("hearbeat_ms", cands, 3), "heartbeat_ms");
	assert_string_equal(baton_yaml_suggest("election_timout", cands, 3), "election_timeout_ms");
	assert_string_equal(baton_yaml_suggest("ic", cands, 3), "id");
	assert_null(baton_yaml_suggest("colour", cands, 3));
}

int main(void)
{
	const struct CMUnitTest config_tests[] = {
		cmocka_unit_test(base_config_loads_with_every_value),
		cmocka_unit_test(minimal_config_gets_every_default),
		cmocka_unit_test(bind_overrides_are_kept),
		cmocka_unit_test(durations_take_units_and_null_means_default),
		cmocka_unit_test(log_levels_map_to_the_log_enum),
		cmocka_unit_test(members_and_regions_are_found_by_id_and_name),
		cmocka_unit_test(each_bound_is_enforced_with_line_and_key),
		cmocka_unit_test(list_lengths_are_enforced),
		cmocka_unit_test(seventeen_regions_are_refused),
		cmocka_unit_test(unknown_keys_are_errors_with_a_suggestion),
		cmocka_unit_test(required_keys_must_be_present),
		cmocka_unit_test(duplicate_keys_are_refused),
		cmocka_unit_test(members_must_be_unique),
		cmocka_unit_test(member_addresses_must_be_ipv4_and_port),
		cmocka_unit_test(regions_and_member_regions_must_match),
		cmocka_unit_test(region_whose_only_member_is_a_witness_is_refused),
		cmocka_unit_test(node_id_must_be_a_member),
		cmocka_unit_test(heartbeat_times_five_must_fit_the_election_timeout),
		cmocka_unit_test(anchors_aliases_and_tags_are_refused),
		cmocka_unit_test(merge_keys_are_refused),
		cmocka_unit_test(syntax_errors_name_line_and_column),
		cmocka_unit_test(a_second_document_is_refused),
		cmocka_unit_test(empty_file_is_refused),
		cmocka_unit_test(top_level_must_be_a_map),
		cmocka_unit_test(missing_file_names_the_path_and_errno),
		cmocka_unit_test(file_on_disk_loads_and_errors_carry_its_path),
		cmocka_unit_test(files_over_one_mebibyte_are_refused),
		cmocka_unit_test(failed_load_does_not_touch_the_result),
		cmocka_unit_test(short_error_buffer_is_terminated),
		cmocka_unit_test(hash_ignores_formatting_comments_key_order_and_node),
		cmocka_unit_test(hash_changes_with_every_cluster_value),
		cmocka_unit_test(hash_changes_when_a_member_becomes_a_witness),
		cmocka_unit_test(dump_loads_back_to_the_same_config),
		cmocka_unit_test(environment_variables_are_substituted),
		cmocka_unit_test(environment_variable_errors_name_line_and_key),
		cmocka_unit_test(unfence_steps_must_fit_in_half_the_lease),
		cmocka_unit_test(step_errors_in_nested_lists_name_their_own_line),
		cmocka_unit_test(key_table_is_consistent),
		cmocka_unit_test(doc_mentions_every_key),
		cmocka_unit_test(doc_reference_matches_the_table),
	};
	const struct CMUnitTest yaml_tests[] = {
		cmocka_unit_test(yaml_nodes_carry_lines_and_columns),
		cmocka_unit_test(yaml_nesting_is_limited_to_32),
		cmocka_unit_test(yaml_refuses_complex_and_duplicate_keys),
		cmocka_unit_test(yaml_reports_invalid_utf8_with_position),
		cmocka_unit_test(yaml_getters_parse_and_explain),
		cmocka_unit_test(yaml_suggests_only_close_words),
	};
	int failed = cmocka_run_group_tests_name("config", config_tests, NULL, NULL);

	failed += cmocka_run_group_tests_name("yamltree", yaml_tests, NULL, NULL);
	return failed;
}
