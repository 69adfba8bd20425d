/* SPDX-License-Identifier: MIT */
/* The batond / baton-witness configuration schema: one table of keys for the
 * engine in lib/conftab.c, the two value types only this file has (url, map),
 * and the checks that span keys.
 *
 * Load = lib/conftab.c walks the table (parse, unknown keys, defaults, types
 * and bounds, ${VAR} substitution) -> cross-key checks (cfg_check_*; the
 * plans' in config_plan.c) -> computed defaults (the "default" group, node
 * bind addresses) -> copy to the caller. The first problem ends the load with
 * a message naming file, line and key; the engine remembers the line of every
 * value (or of the map that lacks it) so the cross-key checks can point at
 * the right line too. The table also drives the cluster hash, the dump and
 * the key reference in docs/configuration.md. */
#include "node/config.h"

#include "node/config_plan.h"
#include "lib/util.h"
#include "lib/yamltree.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The table */

#define REQUIRED true
#define OPTIONAL false

#define FIELD(st, f) .off = offsetof(struct st, f), .size = sizeof(((struct st *)0)->f)

#define SECTION(p, req, d) { .path = (p), .type = BATON_CONF_SECTION, .required = (req), .doc = (d) }
#define LIST(p, st, arr, cnt, lo, hi, req, d)                                                    \
	{ .path = (p), .type = BATON_CONF_LIST, .min = (lo), .max = (hi), .required = (req),  \
	  .doc = (d), FIELD(st, arr), .count_off = offsetof(struct st, cnt),                    \
	  .entry_size = sizeof(((struct st *)0)->arr[0]) }
#define KEY(p, t, st, f, dflt, lo, hi, req, d)                                                  \
	{ .path = (p), .type = BATON_CONF_##t, .def = (dflt), .min = (lo), .max = (hi),         \
	  .required = (req), .doc = (d), FIELD(st, f) }
/* The two types of this file (node/config.h), and flags. */
#define NKEY(p, t, st, f, dflt, lo, hi, req, fl, d)                                             \
	{ .path = (p), .type = BATON_CONFIG_##t, .def = (dflt), .min = (lo), .max = (hi),       \
	  .required = (req), .flags = (fl), .doc = (d), FIELD(st, f) }
#define CHOICE(p, st, f, dflt, ch, req, d)                                                      \
	{ .path = (p), .type = BATON_CONF_CHOICE, .def = (dflt), .choices = (ch),             \
	  .required = (req), .doc = (d), FIELD(st, f) }

#define NAME_MAX_LEN (BATON_NAME_LEN - 1)

#define STEP_KEYS(P)                                                                                         \
	KEY(P "[].name", NAME, baton_step_config, name, NULL, 1, NAME_MAX_LEN, REQUIRED,                   \
	    "Step name, unique within its list; used in after:, logs and history."),                        \
	KEY(P "[].driver", NAME, baton_step_config, driver, NULL, 1, 31, REQUIRED,                         \
	    "Action driver: postgres, powerdns, kubernetes, route53, http or exec (docs/drivers.md)."),     \
	KEY(P "[].after", TEXT, baton_step_config, after, "", 0, BATON_KV_VALUE_LEN - 1, OPTIONAL,          \
	    "Comma-separated names of steps that must be done first; steps without a path between them run in parallel."), \
	NKEY(P "[].params", MAP, baton_step_config, params, NULL, 0, 0, OPTIONAL, BATON_CONF_RAW,          \
	    "Driver parameters; values may use {from.VAR}, {to.VAR}, {self.VAR}, {from}, {to}, {epoch}, {group}, {step}, {drill}."), \
	KEY(P "[].timeout_ms", DURATION, baton_step_config, timeout_ms, "30000", 100, 3600000, OPTIONAL,   \
	    "The whole step, every attempt included; then it fails."),                                     \
	KEY(P "[].attempt_timeout_ms", DURATION, baton_step_config, attempt_timeout_ms, "10000", 100, 3600000, OPTIONAL, \
	    "One attempt of the driver."),                                                                  \
	KEY(P "[].max_attempts", U64, baton_step_config, max_attempts, "3", 1, 100, OPTIONAL,                \
	    "Attempts before the step fails (only retryable errors are retried)."),                         \
	KEY(P "[].backoff_ms", DURATION, baton_step_config, backoff_ms, "500", 0, 600000, OPTIONAL,         \
	    "Delay before the first retry; it doubles each time, with up to 50% random jitter."),           \
	KEY(P "[].kinds", TEXT, baton_step_config, kinds, "", 0, BATON_KV_VALUE_LEN - 1, OPTIONAL,           \
	    "Run the step only for these transition kinds (comma-separated: failover, switchover, failback, drill); empty = all."), \
	KEY(P "[].continue_if_unreachable", BOOL, baton_step_config, continue_if_unreachable, "false", 0, 0, OPTIONAL,  \
	    "For fencing the old primary: if it cannot be reached at all (connection refused or timed out on every attempt), count the step as done: the lease wait before the transition already guarantees the old region fenced itself or is stopped.")

/* Parents come before their children; the order here is the order of the
 * reference in docs/configuration.md, of baton_config_dump() and of the
 * cluster hash (so reordering cluster keys changes every cluster hash). */
static const struct baton_conftab_key cfg_keys[] = {
	SECTION("cluster", REQUIRED,
		"Shared by all nodes: must be identical in every node's file (nodes compare its hash)."),
	KEY("cluster.id", NAME, baton_config, cluster.id, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Name of the cluster; the same in every node's file."),
	KEY("cluster.generation", U64, baton_config, cluster.generation, "1", 1, UINT64_C(1) << 63, OPTIONAL,
	    "Bump it when you change the cluster section on purpose, so nodes can tell an old file from a new one."),
	SECTION("cluster.raft", OPTIONAL, "Raft timing and log compaction."),
	KEY("cluster.raft.election_timeout_ms", DURATION, baton_config, cluster.raft.election_timeout_ms, "1000", 100, 60000, OPTIONAL,
	    "A follower that hears no leader for this long (randomised up to twice) starts an election."),
	KEY("cluster.raft.heartbeat_ms", DURATION, baton_config, cluster.raft.heartbeat_ms, "100", 10, 10000, OPTIONAL,
	    "Leader heartbeat interval; at most election_timeout_ms/5, about a tenth is usual."),
	KEY("cluster.raft.snapshot_threshold", U64, baton_config, cluster.raft.snapshot_threshold, "128", 16, 1000000, OPTIONAL,
	    "Take a snapshot after this many new log entries."),
	KEY("cluster.raft.snapshot_trailing", U64, baton_config, cluster.raft.snapshot_trailing, "64", 8, 1000000, OPTIONAL,
	    "Log entries kept behind a snapshot, so slightly lagging peers catch up without a snapshot transfer."),
	KEY("cluster.raft.connect_retry_ms", DURATION, baton_config, cluster.raft.connect_retry_ms, "200", 50, 10000, OPTIONAL,
	    "Delay before reconnecting to a peer whose raft connection failed."),
	LIST("cluster.members", baton_config, cluster.members, cluster.n_members, 1, BATON_MAX_MEMBERS, REQUIRED,
	     "The voters: one entry per batond and per baton-witness."),
	KEY("cluster.members[].id", U64, baton_member_config, id, NULL, 1, 255, REQUIRED,
	    "Raft server id; unique, never reused for another host."),
	KEY("cluster.members[].name", NAME, baton_member_config, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Unique member name, used in logs, status and history."),
	KEY("cluster.members[].region", NAME, baton_member_config, region, NULL, 0, NAME_MAX_LEN, OPTIONAL,
	    "The region this coordinator runs in: a cluster.regions name. Required unless witness: true; a witness has none."),
	KEY("cluster.members[].witness", BOOL, baton_member_config, witness, "false", 0, 0, OPTIONAL,
	    "True for a baton-witness: votes, never runs actions, has no region."),
	KEY("cluster.members[].raft", ADDR, baton_member_config, raft, NULL, 1, BATON_ADDR_LEN - 1, REQUIRED,
	    "Raft peer address other members connect to (IPv4 literal and port; not 0.0.0.0)."),
	KEY("cluster.members[].api", ADDR, baton_member_config, api, NULL, 1, BATON_ADDR_LEN - 1, REQUIRED,
	    "HTTP API address of this member (IPv4 literal and port; not 0.0.0.0)."),
	LIST("cluster.regions", baton_config, cluster.regions, cluster.n_regions, 1, BATON_MAX_REGIONS, REQUIRED,
	     "The regions that can hold the baton; each needs at least one member that is not a witness."),
	KEY("cluster.regions[].name", NAME, baton_region_config, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Unique region name."),
	KEY("cluster.regions[].priority", U64, baton_region_config, priority, "100", 0, 1000, OPTIONAL,
	    "Preference in automatic failover, higher first; 0 = never chosen automatically (operators can still switch to it)."),
	LIST("cluster.regions[].probes", baton_region_config, probes, n_probes, 0, BATON_MAX_PROBES, OPTIONAL,
	     "External checks of the region's public endpoints, run by every coordinator and the witness. A round passes when every probe passes."),
	CHOICE("cluster.regions[].probes[].type", baton_probe_config, type, NULL, "http|tcp", REQUIRED,
	       "http: GET url and expect expect_status; tcp: connect to address."),
	NKEY("cluster.regions[].probes[].url", URL, baton_probe_config, url, "", 0, BATON_URL_LEN - 1, OPTIONAL, 0,
	    "For http probes: the URL to GET."),
	KEY("cluster.regions[].probes[].address", ADDR, baton_probe_config, address, "", 0, BATON_ADDR_LEN - 1, OPTIONAL,
	    "For tcp probes: IPv4 address and port to connect to."),
	KEY("cluster.regions[].probes[].expect_status", U64, baton_probe_config, expect_status, "200", 100, 599, OPTIONAL,
	    "For http probes: the HTTP status that means healthy."),
	NKEY("cluster.regions[].vars", MAP, baton_region_config, vars, NULL, 0, 0, OPTIONAL, 0,
	    "Values plan steps refer to as {from.NAME}, {to.NAME} or {self.NAME}: connection strings, addresses, names."),
	LIST("cluster.regions[].self_fence", baton_region_config, self_fence, n_self_fence, 0, BATON_MAX_FENCE_STEPS, OPTIONAL,
	     "Steps the region's own coordinator runs, in order, when it loses its lease (even when it reaches no one)."),
	STEP_KEYS("cluster.regions[].self_fence"),
	LIST("cluster.regions[].unfence", baton_region_config, unfence, n_unfence, 0, BATON_MAX_FENCE_STEPS, OPTIONAL,
	     "Steps the region's own coordinator runs, in order, when its lease is granted again after it ran its self_fence steps (no failover happened): e.g. postgres op=promote on its own primary, which records the epoch and makes it writable. Each starts only with at least its timeout_ms of lease left, so its timeout_ms must be at most cluster.lease.ttl_ms/2; {self.*} is this region."),
	STEP_KEYS("cluster.regions[].unfence"),
	LIST("cluster.regions[].rejoin", baton_region_config, rejoin, n_rejoin, 0, BATON_MAX_FENCE_STEPS, OPTIONAL,
	     "Steps the region's own coordinator runs, in order, when an operator asks it to rejoin as a replica of the active region (batonctl reverse); {from.*} is this region, {to.*} the active one."),
	STEP_KEYS("cluster.regions[].rejoin"),
	LIST("cluster.groups", baton_config, cluster.groups, cluster.n_groups, 1, BATON_MAX_GROUPS, OPTIONAL,
	     "Failover groups, each with its own active region. Without this key: one group named default whose initial_active is the first region."),
	KEY("cluster.groups[].name", NAME, baton_group_config, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Unique group name."),
	KEY("cluster.groups[].initial_active", NAME, baton_group_config, initial_active, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "The region that holds the group's baton when the cluster is first bootstrapped: a cluster.regions name."),
	SECTION("cluster.detection", OPTIONAL, "Failure detection: external probes and health reports."),
	KEY("cluster.detection.probe_interval_ms", DURATION, baton_config, cluster.detection.probe_interval_ms, "1000", 100, 60000, OPTIONAL,
	    "How often every coordinator probes every region."),
	KEY("cluster.detection.probe_timeout_ms", DURATION, baton_config, cluster.detection.probe_timeout_ms, "800", 50, 60000, OPTIONAL,
	    "Timeout of one probe; less than probe_interval_ms."),
	KEY("cluster.detection.down_after_ms", DURATION, baton_config, cluster.detection.down_after_ms, "3000", 0, 600000, OPTIONAL,
	    "A region whose probes fail this long is subjectively down for this observer (the change is committed)."),
	KEY("cluster.detection.up_after_ms", DURATION, baton_config, cluster.detection.up_after_ms, "2000", 0, 600000, OPTIONAL,
	    "A subjectively down region whose probes pass this long is up again."),
	KEY("cluster.detection.observer_quorum", U64, baton_config, cluster.detection.observer_quorum, "0", 0, BATON_MAX_MEMBERS, OPTIONAL,
	    "Observers that must see a region down for it to be objectively down; 0 = a majority of the members."),
	KEY("cluster.detection.report_max_age_ms", DURATION, baton_config, cluster.detection.report_max_age_ms, "10000", 100, 600000, OPTIONAL,
	    "Health reports sent longer ago than this (reporter clock vs coordinator clock) are rejected as stale."),
	KEY("cluster.detection.report_max_skew_ms", DURATION, baton_config, cluster.detection.report_max_skew_ms, "2000", 0, 600000, OPTIONAL,
	    "Health reports dated further in the future than this are rejected."),
	KEY("cluster.detection.reporter_timeout_ms", DURATION, baton_config, cluster.detection.reporter_timeout_ms, "5000", 100, 600000, OPTIONAL,
	    "A region whose coordinator accepted no report for this long has lost its reporters."),
	SECTION("cluster.lease", OPTIONAL, "The active region's lease and the wait before another region is promoted."),
	KEY("cluster.lease.ttl_ms", DURATION, baton_config, cluster.lease.ttl_ms, "3000", 300, 600000, OPTIONAL,
	    "Lease of the active region's coordinator; renewed through the leader every ttl_ms/3. Unrenewed this long, it fences its own region."),
	KEY("cluster.lease.max_drift_percent", U64, baton_config, cluster.lease.max_drift_percent, "5", 0, 50, OPTIONAL,
	    "Bound on how much faster or slower one node's clock runs than another's."),
	KEY("cluster.lease.margin_ms", DURATION, baton_config, cluster.lease.margin_ms, "1000", 0, 600000, OPTIONAL,
	    "Added to the wait before promoting another region; must cover the self-fence steps."),
	SECTION("cluster.failover", OPTIONAL, "Automatic failover rules."),
	KEY("cluster.failover.failover_after_ms", DURATION, baton_config, cluster.failover.failover_after_ms, "2000", 0, 3600000, OPTIONAL,
	    "The active region must be objectively down this long before an automatic failover."),
	KEY("cluster.failover.cooldown_ms", DURATION, baton_config, cluster.failover.cooldown_ms, "300000", 0, 86400000, OPTIONAL,
	    "Minimum time between two automatic failovers of a group."),
	KEY("cluster.failover.max_lag_bytes", U64, baton_config, cluster.failover.max_lag_bytes, "1048576", 0, UINT64_C(1) << 50, OPTIONAL,
	    "RPO guard: a standby whose reported replication lag exceeds this is not a candidate."),
	KEY("cluster.failover.max_lag_ms", DURATION, baton_config, cluster.failover.max_lag_ms, "10000", 0, 86400000, OPTIONAL,
	    "RPO guard in time: a standby whose reported replay delay exceeds this is not a candidate."),
	KEY("cluster.failover.flap_window_ms", DURATION, baton_config, cluster.failover.flap_window_ms, "3600000", 1000, 604800000, OPTIONAL,
	    "Window in which automatic failovers are counted for flap protection."),
	KEY("cluster.failover.flap_max", U64, baton_config, cluster.failover.flap_max, "3", 1, 16, OPTIONAL,
	    "This many automatic failovers within flap_window_ms freeze the group (an operator must unfreeze)."),
	KEY("cluster.failover.require_reporters", BOOL, baton_config, cluster.failover.require_reporters, "false", 0, 0, OPTIONAL,
	    "If true, a standby is a candidate only while its reporters send fresh reports."),
	LIST("cluster.plan", baton_config, cluster.plan, cluster.n_plan, 0, BATON_MAX_PLAN_STEPS, OPTIONAL,
	     "The failover plan: steps (a DAG through after:) the leader runs to move the baton {from} -> {to}."),
	STEP_KEYS("cluster.plan"),
	LIST("cluster.operators", baton_config, cluster.operators, cluster.n_operators, 0, BATON_MAX_OPERATORS, OPTIONAL,
	     "Operator keys that may sign batonctl commands (batonctl keygen prints an entry)."),
	KEY("cluster.operators[].name", NAME, baton_operator_config, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Who holds the key; recorded in the history with every command."),
	KEY("cluster.operators[].public_key", TEXT, baton_operator_config, public_key, NULL, 64, 64, REQUIRED,
	    "Ed25519 public key, 64 hex characters."),
	KEY("cluster.operators[].operations", TEXT, baton_operator_config, operations, "all", 1, BATON_KV_VALUE_LEN - 1, OPTIONAL,
	    "Operations this key may sign, comma-separated (switchover, failover, failback, freeze, unfreeze, drill, retry-step, skip-step, approve), or all."),
	SECTION("cluster.commands", OPTIONAL, "Signed operator commands."),
	KEY("cluster.commands.max_validity_ms", DURATION, baton_config, cluster.commands.max_validity_ms, "600000", 1000, 86400000, OPTIONAL,
	    "A command may be valid for at most this long (expires_at - issued_at); approvals must arrive within it."),
	KEY("cluster.commands.max_skew_ms", DURATION, baton_config, cluster.commands.max_skew_ms, "30000", 0, 600000, OPTIONAL,
	    "How far in the future issued_at may be (operator and leader clocks differ)."),
	SECTION("node", REQUIRED, "This host; differs between nodes."),
	KEY("node.id", U64, baton_config, node.id, NULL, 1, 255, REQUIRED,
	    "Which cluster.members entry this node is."),
	KEY("node.data_dir", PATH, baton_config, node.data_dir, "/var/lib/baton", 1, BATON_PATH_LEN - 1, OPTIONAL,
	    "Directory for the raft log, snapshots and the state store."),
	CHOICE("node.log_level", baton_config, node.log_level, "info", "debug|info|notice|warn|error", OPTIONAL,
	       "Lowest level written to the log."),
	KEY("node.api_listen", ADDR, baton_config, node.api_listen, "", 0, BATON_ADDR_LEN - 1, OPTIONAL,
	    "Bind address of the HTTP API if it differs from this member's api (e.g. 0.0.0.0:8001); empty = the member's api."),
	KEY("node.raft_bind", ADDR, baton_config, node.raft_bind, "", 0, BATON_ADDR_LEN - 1, OPTIONAL,
	    "Bind address of the raft transport if it differs from this member's raft (e.g. 0.0.0.0:7001 behind NAT); empty = the member's raft."),
	KEY("node.report_key_file", TEXT, baton_config, node.report_key_file, "", 0, BATON_PATH_LEN - 1, OPTIONAL,
	    "Key (64 hex chars, mode 0600) that this region's baton-reporters sign health reports with; empty = reports are refused."),
	KEY("node.peer_key_file", TEXT, baton_config, node.peer_key_file, "", 0, BATON_PATH_LEN - 1, OPTIONAL,
	    "Cluster-wide key (64 hex chars, mode 0600) authenticating coordinator-to-coordinator requests; empty = unauthenticated (logged at start)."),
};

#define CFG_NKEYS BATON_ARRAY_SIZE(cfg_keys)
#define CFG_MAX_KIDS 32  /* keys directly under one map */
#define CFG_LIST_MAX 16  /* entries of the longest list */
#define CFG_PATH_LEN 256 /* display paths: "cluster.members[3].region" */

/* Log levels are stored as the index in "debug|info|notice|warn|error". */
_Static_assert(BATON_LOG_DEBUG == 0 && BATON_LOG_INFO == 1 && BATON_LOG_NOTICE == 2 &&
		       BATON_LOG_WARN == 3 && BATON_LOG_ERROR == 4,
	       "node.log_level choices follow enum baton_log_level");
_Static_assert(sizeof(enum baton_log_level) == sizeof(int), "choices are stored as int");
_Static_assert(BATON_MAX_MEMBERS <= CFG_LIST_MAX && BATON_MAX_REGIONS <= CFG_LIST_MAX &&
		       BATON_MAX_GROUPS <= CFG_LIST_MAX,
	       "the engine keeps lines for CFG_LIST_MAX entries per key");
_Static_assert(BATON_NAME_LEN == 64 && BATON_ADDR_LEN == BATON_YAML_ADDR_LEN, "sizes");

static int cfg_set_custom(struct baton_conf *x, const struct baton_conftab_key *k,
			  const struct baton_yaml_node *n, const char *path, char *base);
static int cfg_check(struct baton_conf *x, void *cfg);

static const struct baton_conftab cfg_tab = {
	.keys = cfg_keys,
	.n_keys = CFG_NKEYS,
	.list_max = CFG_LIST_MAX,
	.struct_size = sizeof(struct baton_config),
	.empty = "expected the sections 'cluster' and 'node'",
	.top = "with the sections 'cluster' and 'node'",
	.set_custom = cfg_set_custom,
	.check = cfg_check,
};

const struct baton_conftab_key *baton_config_keys(size_t *ret_n)
{
	*ret_n = CFG_NKEYS;
	return cfg_keys;
}

const char *baton_config_type_name(int type)
{
	static const char *const names[] = {
		[BATON_CONF_SECTION] = "section", [BATON_CONF_LIST] = "list",
		[BATON_CONF_U64] = "integer",     [BATON_CONF_DURATION] = "duration",
		[BATON_CONF_BOOL] = "bool",       [BATON_CONF_NAME] = "name",
		[BATON_CONF_PATH] = "path",       [BATON_CONF_ADDR] = "address",
		[BATON_CONF_CHOICE] = "choice",   [BATON_CONF_TEXT] = "text",
		[BATON_CONF_IPV4] = "IPv4",       [BATON_CONFIG_URL] = "url",
		[BATON_CONFIG_MAP] = "map",
	};
	return type >= 0 && (size_t)type < BATON_ARRAY_SIZE(names) && names[type] != NULL
		       ? names[type] : "?";
}

/* ------------------------------------------------------------------------ */
/* Table helpers */

static size_t cfg_children(const char *parent, const struct baton_conftab_key **kids)
{
	return baton_conf_children(&cfg_tab, parent, -1, kids, CFG_MAX_KIDS);
}

/* The value of scalar key @k stored at @base, as text ("1000", "true", "eu-west", "info"). */
static void cfg_value_text(const struct baton_conftab_key *k, const char *base, char *out,
			   size_t outlen)
{
	const char *p = base + k->off;

	switch (k->type) {
	case BATON_CONF_U64:
	case BATON_CONF_DURATION:
		snprintf(out, outlen, "%" PRIu64, baton_conf_load_uint(p, k->size));
		break;
	case BATON_CONF_BOOL: {
		bool b;
		memcpy(&b, p, sizeof b);
		snprintf(out, outlen, "%s", b ? "true" : "false");
		break;
	}
	case BATON_CONF_CHOICE: {
		const char *words[16];
		char buf[256];
		size_t n = baton_conf_split_choices(k->choices, buf, sizeof buf, words, 16);
		uint64_t i = baton_conf_load_uint(p, k->size);
		snprintf(out, outlen, "%s", i < n ? words[i] : "?");
		break;
	}
	case BATON_CONFIG_MAP: {
		const struct baton_kv_list *l = (const struct baton_kv_list *)p;
		size_t off = 0;
		out[0] = '\0';
		for (unsigned i = 0; i < l->n && off < outlen; i++) {
			int w = snprintf(out + off, outlen - off, "%s%s=%zu:%s", i ? ";" : "", l->items[i].key,
					 strlen(l->items[i].value), l->items[i].value);
			if (w < 0)
				break;
			off += (size_t)w;
		}
		break;
	}
	default:
		snprintf(out, outlen, "%.*s", (int)k->size, p);
		break;
	}
}


/* ------------------------------------------------------------------------ */
/* Loading: the url and map types */

static int cfg_set_custom(struct baton_conf *x, const struct baton_conftab_key *k,
			  const struct baton_yaml_node *n, const char *path, char *base)
{
	void *dst = base + k->off;
	char got[128];
	int rv;

	if (k->type == BATON_CONFIG_MAP) {
		struct baton_kv_list *l = dst;

		memset(l, 0, sizeof *l);
		if (n->kind != BATON_YAML_MAP)
			return baton_conf_fail(x, n->line, path, "must be a map, got %s",
					       baton_conf_got(got, sizeof got, n));
		if (n->n > BATON_MAX_KV)
			return baton_conf_fail(x, n->line, path, "must have at most %d entries, got %zu",
					       BATON_MAX_KV, n->n);
		for (size_t i = 0; i < n->n; i++) {
			const struct baton_yaml_pair *pr = &n->pairs[i];
			char kpath[CFG_PATH_LEN];
			bool good = pr->key_len > 0 && pr->key_len < BATON_KV_KEY_LEN;
			for (size_t c = 0; good && c < pr->key_len; c++)
				good = strchr("abcdefghijklmnopqrstuvwxyz0123456789_", pr->key[c]) != NULL && pr->key[c] != '\0';
			if (!good)
				return baton_conf_fail(x, pr->line, path,
						       "keys must be 1..%d characters of [a-z0-9_], got '%.*s'",
						       BATON_KV_KEY_LEN - 1, (int)(pr->key_len < 64 ? pr->key_len : 64), pr->key);
			memcpy(l->items[i].key, pr->key, pr->key_len);
			l->items[i].key[pr->key_len] = '\0';
			snprintf(kpath, sizeof kpath, "%s.%s", path, l->items[i].key);
			rv = baton_conf_get_str(x, pr->value, kpath, 0, BATON_KV_VALUE_LEN - 1, NULL,
						(k->flags & BATON_CONF_RAW) != 0, l->items[i].value,
						sizeof l->items[i].value);
			if (rv != 0)
				return rv;
			l->n++;
		}
		return 0;
	}
	/* BATON_CONFIG_URL (@n is substituted already, hence raw) */
	rv = baton_conf_get_str(x, n, path, k->min, k->max, NULL, true, dst, k->size);
	if (rv != 0)
		return rv;
	for (const unsigned char *c = dst; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f || *c == ' ')
			return baton_conf_fail(x, n->line, path, "must not contain %s, got %s",
					       *c == ' ' ? "spaces" : "control characters",
					       baton_conf_got(got, sizeof got, n));
	if (((char *)dst)[0] != '\0' && strncmp(dst, "http://", 7) != 0 &&
	    strncmp(dst, "https://", 8) != 0)
		return baton_conf_fail(x, n->line, path, "must be an http:// or https:// URL, got %s",
				       baton_conf_got(got, sizeof got, n));
	return 0;
}

static int cfg_check_detection(struct baton_conf *x, const struct baton_cluster_config *c)
{
	const struct baton_detection_config *d = &c->detection;

	if (d->probe_timeout_ms >= d->probe_interval_ms)
		return baton_conf_fail(x, baton_conf_line(x, "cluster.detection.probe_timeout_ms", 0),
				"cluster.detection.probe_timeout_ms",
				"must be less than probe_interval_ms (%" PRIu64 "), got %" PRIu64,
				d->probe_interval_ms, d->probe_timeout_ms);
	if (d->observer_quorum > c->n_members)
		return baton_conf_fail(x, baton_conf_line(x, "cluster.detection.observer_quorum", 0),
				"cluster.detection.observer_quorum",
				"must be at most the number of members (%u), got %" PRIu64, c->n_members,
				d->observer_quorum);
	for (unsigned i = 0; i < c->n_regions; i++)
		for (unsigned j = 0; j < c->regions[i].n_probes; j++) {
			const struct baton_probe_config *p = &c->regions[i].probes[j];
			char path[96];
			snprintf(path, sizeof path, "cluster.regions[%u].probes[%u]", i, j);
			if (p->type == BATON_PROBE_HTTP && p->url[0] == '\0')
				return baton_conf_fail(x, baton_conf_line(x, "cluster.regions[].probes[].type", j), path,
						"an http probe needs a url");
			if (p->type == BATON_PROBE_TCP && p->address[0] == '\0')
				return baton_conf_fail(x, baton_conf_line(x, "cluster.regions[].probes[].type", j), path,
						"a tcp probe needs an address");
		}
	return 0;
}

static int cfg_check_raft(struct baton_conf *x, const struct baton_raft_config *r)
{
	if (r->heartbeat_ms * 5 > r->election_timeout_ms)
		return baton_conf_fail(x, baton_conf_line(x, "cluster.raft.heartbeat_ms", 0),
				"cluster.raft.heartbeat_ms",
				"must be at most election_timeout_ms/5 (%" PRIu64 "), got %" PRIu64,
				r->election_timeout_ms / 5, r->heartbeat_ms);
	return 0;
}

static int cfg_check_members(struct baton_conf *x, const struct baton_cluster_config *c)
{
	char path[CFG_PATH_LEN];

	for (unsigned j = 0; j < c->n_members; j++) {
		const struct baton_member_config *m = &c->members[j];

		for (unsigned i = 0; i < j; i++) {
			if (c->members[i].id == m->id) {
				snprintf(path, sizeof path, "cluster.members[%u].id", j);
				return baton_conf_fail(x, baton_conf_line(x, "cluster.members[].id", j), path,
						"duplicate member id %u (also cluster.members[%u], line %u)",
						m->id, i, baton_conf_line(x, "cluster.members[].id", i));
			}
			if (strcmp(c->members[i].name, m->name) == 0) {
				snprintf(path, sizeof path, "cluster.members[%u].name", j);
				return baton_conf_fail(x, baton_conf_line(x, "cluster.members[].name", j), path,
						"duplicate member name '%s' (also cluster.members[%u], line %u)",
						m->name, i, baton_conf_line(x, "cluster.members[].name", i));
			}
		}
	}
	/* Every raft and api address, of all members, is distinct: two of them
	 * equal would be two listeners on one socket. Peers dial these, so the
	 * wildcard address makes no sense here (node.*_bind/listen may use it). */
	for (unsigned s = 0; s < 2 * c->n_members; s++) {
		const struct baton_member_config *m = &c->members[s / 2];
		const char *key = s % 2 == 0 ? "raft" : "api";
		const char *addr = s % 2 == 0 ? m->raft : m->api;
		char tpath[64];

		snprintf(path, sizeof path, "cluster.members[%u].%s", s / 2, key);
		snprintf(tpath, sizeof tpath, "cluster.members[].%s", key);
		if (strncmp(addr, "0.0.0.0:", 8) == 0)
			return baton_conf_fail(x, baton_conf_line(x, tpath, s / 2), path,
					"must be an address the other members can connect to, got '%s' "
					"(to listen on all interfaces set node.%s)",
					addr, s % 2 == 0 ? "raft_bind" : "api_listen");
		for (unsigned t = 0; t < s; t++) {
			const struct baton_member_config *o = &c->members[t / 2];
			const char *okey = t % 2 == 0 ? "raft" : "api";
			char otpath[64];

			if (strcmp(addr, t % 2 == 0 ? o->raft : o->api) != 0)
				continue;
			snprintf(otpath, sizeof otpath, "cluster.members[].%s", okey);
			return baton_conf_fail(x, baton_conf_line(x, tpath, s / 2), path,
					"address %s is already used by cluster.members[%u].%s (line %u)",
					addr, t / 2, okey, baton_conf_line(x, otpath, t / 2));
		}
	}
	return 0;
}

static void cfg_region_list(const struct baton_cluster_config *c, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < c->n_regions && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i > 0 ? ", " : "",
				      c->regions[i].name);
}

static int cfg_check_regions(struct baton_conf *x, const struct baton_cluster_config *c)
{
	char path[CFG_PATH_LEN], known[BATON_MAX_REGIONS * (BATON_NAME_LEN + 2)];

	for (unsigned j = 0; j < c->n_regions; j++) {
		for (unsigned i = 0; i < j; i++) {
			if (strcmp(c->regions[i].name, c->regions[j].name) != 0)
				continue;
			snprintf(path, sizeof path, "cluster.regions[%u].name", j);
			return baton_conf_fail(x, baton_conf_line(x, "cluster.regions[].name", j), path,
					"duplicate region '%s' (also cluster.regions[%u], line %u)",
					c->regions[j].name, i, baton_conf_line(x, "cluster.regions[].name", i));
		}
	}
	cfg_region_list(c, known, sizeof known);
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct baton_member_config *m = &c->members[i];
		unsigned line = baton_conf_line(x, "cluster.members[].region", i);

		snprintf(path, sizeof path, "cluster.members[%u].region", i);
		if (m->witness && m->region[0] != '\0')
			return baton_conf_fail(x, line, path,
					"a witness has no region; remove the key or set witness: false");
		if (!m->witness && m->region[0] == '\0')
			return baton_conf_fail(x, line, path, "is required (unless witness: true)");
		if (!m->witness && baton_config_region(c, m->region) == NULL)
			return baton_conf_fail(x, line, path, "'%s' is not in cluster.regions (%s)", m->region,
					known);
	}
	for (unsigned j = 0; j < c->n_regions; j++) {
		bool covered = false;

		for (unsigned i = 0; i < c->n_members && !covered; i++)
			covered = !c->members[i].witness &&
				  strcmp(c->members[i].region, c->regions[j].name) == 0;
		if (covered)
			continue;
		snprintf(path, sizeof path, "cluster.regions[%u].name", j);
		return baton_conf_fail(x, baton_conf_line(x, "cluster.regions[].name", j), path,
				"region '%s' has no members; each region needs at least one member that is not a witness",
				c->regions[j].name);
	}
	return 0;
}

static int cfg_check_groups(struct baton_conf *x, struct baton_cluster_config *c)
{
	char path[CFG_PATH_LEN], known[BATON_MAX_REGIONS * (BATON_NAME_LEN + 2)];

	if (c->n_groups == 0) {
		c->n_groups = 1;
		baton_strlcpy(c->groups[0].name, "default", sizeof c->groups[0].name);
		memcpy(c->groups[0].initial_active, c->regions[0].name, BATON_NAME_LEN);
		return 0;
	}
	cfg_region_list(c, known, sizeof known);
	for (unsigned j = 0; j < c->n_groups; j++) {
		const struct baton_group_config *g = &c->groups[j];

		for (unsigned i = 0; i < j; i++) {
			if (strcmp(c->groups[i].name, g->name) != 0)
				continue;
			snprintf(path, sizeof path, "cluster.groups[%u].name", j);
			return baton_conf_fail(x, baton_conf_line(x, "cluster.groups[].name", j), path,
					"duplicate group '%s' (also cluster.groups[%u], line %u)",
					g->name, i, baton_conf_line(x, "cluster.groups[].name", i));
		}
		if (baton_config_region(c, g->initial_active) == NULL) {
			snprintf(path, sizeof path, "cluster.groups[%u].initial_active", j);
			return baton_conf_fail(x, baton_conf_line(x, "cluster.groups[].initial_active", j), path,
					"'%s' is not in cluster.regions (%s)", g->initial_active,
					known);
		}
	}
	return 0;
}

static int cfg_check_node(struct baton_conf *x, struct baton_config *cfg)
{
	const char *files[][2] = {{"node.report_key_file", cfg->node.report_key_file},
				  {"node.peer_key_file", cfg->node.peer_key_file}};
	for (size_t i = 0; i < BATON_ARRAY_SIZE(files); i++)
		if (files[i][1][0] != '\0' && files[i][1][0] != '/')
			return baton_conf_fail(x, baton_conf_line(x, files[i][0], 0), files[i][0],
					"must be an absolute path, got '%s'", files[i][1]);
	const struct baton_member_config *self = baton_config_member(&cfg->cluster, cfg->node.id);

	if (self == NULL) {
		char ids[BATON_MAX_MEMBERS * 5];
		size_t o = 0;

		ids[0] = '\0';
		for (unsigned i = 0; i < cfg->cluster.n_members && o < sizeof ids; i++)
			o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%u", i > 0 ? ", " : "",
					      cfg->cluster.members[i].id);
		return baton_conf_fail(x, baton_conf_line(x, "node.id", 0), "node.id",
				"%u is not a member id (valid ids: %s)", cfg->node.id, ids);
	}
	if (cfg->node.api_listen[0] == '\0')
		memcpy(cfg->node.api_listen, self->api, BATON_ADDR_LEN);
	if (cfg->node.raft_bind[0] == '\0')
		memcpy(cfg->node.raft_bind, self->raft, BATON_ADDR_LEN);
	return 0;
}


static int cfg_check(struct baton_conf *x, void *p)
{
	struct baton_config *cfg = p;
	int rv;

	rv = cfg_check_raft(x, &cfg->cluster.raft);
	if (rv == 0)
		rv = cfg_check_members(x, &cfg->cluster);
	if (rv == 0)
		rv = cfg_check_regions(x, &cfg->cluster);
	if (rv == 0)
		rv = cfg_check_groups(x, &cfg->cluster);
	if (rv == 0)
		rv = cfg_check_detection(x, &cfg->cluster);
	if (rv == 0)
		rv = baton_config_check_plans(x, &cfg->cluster);
	if (rv == 0)
		rv = cfg_check_node(x, cfg);
	return rv;
}

int baton_config_load_string(const char *name, const char *yaml, size_t len,
			     struct baton_config *ret, char *errbuf, size_t errlen)
{
	int rv = baton_conf_load_string(&cfg_tab, name, yaml, len, ret, errbuf, errlen);

	if (rv == 0)
		ret->self = baton_config_member(&ret->cluster, ret->node.id);
	return rv;
}

int baton_config_load(const char *path, struct baton_config *ret, char *errbuf, size_t errlen)
{
	int rv = baton_conf_load_file(&cfg_tab, path, ret, errbuf, errlen);

	if (rv == 0)
		ret->self = baton_config_member(&ret->cluster, ret->node.id);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Lookups */

const struct baton_member_config *baton_config_member(const struct baton_cluster_config *c,
						      unsigned id)
{
	for (unsigned i = 0; i < c->n_members && i < BATON_MAX_MEMBERS; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

const struct baton_region_config *baton_config_region(const struct baton_cluster_config *c,
						      const char *name)
{
	for (unsigned i = 0; i < c->n_regions && i < BATON_MAX_REGIONS; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return &c->regions[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Cluster hash */

static void cfg_hash_str(crypto_hash_sha256_state *st, const char *s)
{
	crypto_hash_sha256_update(st, (const unsigned char *)s, strlen(s));
}

/* Feed key @k (at display path @dpath, values at @base) and everything under it:
 * "path=<len>:<value>\n" per value, "path#=<count>\n" per list. Length
 * prefixes keep the encoding unambiguous whatever a value contains. */
static void cfg_hash_key(crypto_hash_sha256_state *st, const struct baton_conftab_key *k,
			 const char *dpath, const char *base)
{
	const struct baton_conftab_key *kids[CFG_MAX_KIDS];
	char line[CFG_PATH_LEN + 64], val[BATON_PATH_LEN + 8];
	size_t nk;

	switch (k->type) {
	case BATON_CONF_SECTION:
		nk = cfg_children(k->path, kids);
		for (size_t i = 0; i < nk; i++) {
			char p[CFG_PATH_LEN];
			snprintf(p, sizeof p, "%s.%s", dpath, baton_conf_leaf(kids[i]->path));
			cfg_hash_key(st, kids[i], p, base);
		}
		break;
	case BATON_CONF_LIST: {
		unsigned count;
		char tp[CFG_PATH_LEN];

		memcpy(&count, base + k->count_off, sizeof count);
		snprintf(line, sizeof line, "%s#=%u\n", dpath, count);
		cfg_hash_str(st, line);
		snprintf(tp, sizeof tp, "%s[]", k->path);
		nk = cfg_children(tp, kids);
		for (unsigned j = 0; j < count; j++) {
			const char *entry = base + k->off + j * k->entry_size;
			for (size_t i = 0; i < nk; i++) {
				char p[CFG_PATH_LEN];
				snprintf(p, sizeof p, "%s[%u].%s", dpath, j, baton_conf_leaf(kids[i]->path));
				cfg_hash_key(st, kids[i], p, entry);
			}
		}
		break;
	}
	default:
		cfg_value_text(k, base, val, sizeof val);
		snprintf(line, sizeof line, "%s=%zu:", dpath, strlen(val));
		cfg_hash_str(st, line);
		cfg_hash_str(st, val);
		cfg_hash_str(st, "\n");
		break;
	}
}

void baton_config_cluster_hash(const struct baton_cluster_config *c, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char digest[crypto_hash_sha256_BYTES];
	struct baton_config *tmp;

	/* Table offsets are relative to struct baton_config. */
	tmp = calloc(1, sizeof(*tmp));
	if (tmp == NULL) {
		out[0] = '\0'; /* UNTESTED */
		return;
	}
	tmp->cluster = *c;
	crypto_hash_sha256_init(&st);
	cfg_hash_str(&st, "baton-cluster-config/1\n");
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (strcmp(cfg_keys[i].path, "cluster") == 0)
			cfg_hash_key(&st, &cfg_keys[i], "cluster", (const char *)tmp);
	crypto_hash_sha256_final(&st, digest);
	baton_hex(out, digest, sizeof digest);
	free(tmp);
}

/* ------------------------------------------------------------------------ */
/* Dump */

static bool cfg_is_text(int t)
{
	return t == BATON_CONF_NAME || t == BATON_CONF_PATH || t == BATON_CONF_ADDR ||
	       t == BATON_CONF_TEXT || t == BATON_CONFIG_URL || t == BATON_CONFIG_MAP;
}

static void cfg_dump_value(FILE *f, const struct baton_conftab_key *k, const char *base)
{
	char val[BATON_PATH_LEN + 8];

	if (k->type == BATON_CONFIG_MAP) {
		/* A flow map that loads back: {key: "value", ...} */
		const struct baton_kv_list *l = (const struct baton_kv_list *)(base + k->off);
		fputc('{', f);
		for (unsigned i = 0; i < l->n; i++) {
			fprintf(f, "%s%s: ", i ? ", " : "", l->items[i].key);
			baton_conf_write_quoted(f, l->items[i].value, (k->flags & BATON_CONF_RAW) != 0);
		}
		fputs("}\n", f);
		return;
	}
	cfg_value_text(k, base, val, sizeof val);
	if (!cfg_is_text(k->type)) {
		fprintf(f, "%s\n", val);
		return;
	}
	baton_conf_write_quoted(f, val, (k->flags & BATON_CONF_RAW) != 0);
	fputc('\n', f);
}

/* The keys under @tpath at @indent spaces; @entry: the first one opens a list entry. */
static void cfg_dump_map(FILE *f, const char *tpath, const char *base, int indent, bool entry)
{
	const struct baton_conftab_key *kids[CFG_MAX_KIDS];
	size_t nk = cfg_children(tpath, kids);

	for (size_t i = 0; i < nk; i++) {
		const struct baton_conftab_key *k = kids[i];

		if (entry && i == 0)
			fprintf(f, "%*s- %s:", indent - 2, "", baton_conf_leaf(k->path));
		else
			fprintf(f, "%*s%s:", indent, "", baton_conf_leaf(k->path));
		switch (k->type) {
		case BATON_CONF_SECTION:
			fputc('\n', f);
			cfg_dump_map(f, k->path, base, indent + 2, false);
			break;
		case BATON_CONF_LIST: {
			unsigned count;
			char tp[CFG_PATH_LEN];

			memcpy(&count, base + k->count_off, sizeof count);
			fputs(count == 0 ? " []\n" : "\n", f);
			snprintf(tp, sizeof tp, "%s[]", k->path);
			for (unsigned j = 0; j < count; j++)
				cfg_dump_map(f, tp, base + k->off + j * k->entry_size, indent + 4, true);
			break;
		}
		default:
			fputc(' ', f);
			cfg_dump_value(f, k, base);
			break;
		}
	}
}

void baton_config_dump(const struct baton_config *c, FILE *f)
{
	char hash[65];

	baton_config_cluster_hash(&c->cluster, hash);
	fprintf(f, "# effective configuration (defaults filled in)\n# cluster hash: %s\n", hash);
	cfg_dump_map(f, "", (const char *)c, 0, false);
}

/* ------------------------------------------------------------------------ */
/* Reference for docs/configuration.md */

/* The allowed-values cell: the engine's text, or this file's for its types. */
static void cfg_write_allowed(FILE *f, const struct baton_conftab_key *k)
{
	if (baton_conf_write_allowed(f, k))
		return;
	if (k->type == BATON_CONF_DURATION)
		fprintf(f, "%" PRIu64 "..%" PRIu64 " ms", k->min, k->max);
	else if (k->type == BATON_CONF_PATH)
		fprintf(f, "absolute path, up to %" PRIu64 " chars", k->max);
}

void baton_config_write_reference(FILE *f)
{
	fputs("| Key | Type | Default | Allowed values | Description |\n", f);
	fputs("| --- | --- | --- | --- | --- |\n", f);
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct baton_conftab_key *k = &cfg_keys[i];

		fprintf(f, "| `%s` | %s | ", k->path, baton_config_type_name(k->type));
		if (!baton_conf_write_default(f, k))
			fputs("—", f);
		fputs(" | ", f);
		cfg_write_allowed(f, k);
		fputs(" | ", f);
		baton_conf_md(f, k->doc);
		fputs(" |\n", f);
	}
}
