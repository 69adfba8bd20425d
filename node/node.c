/* SPDX-License-Identifier: MIT */
/* batond's lifecycle and leader duties; see node.h.
 *
 * Start-up: config -> data dir (created 0700, locked, write-probed) -> FSM
 * (LMDB) -> raft member -> HTTP API -> signals -> loop. Every failure before
 * the loop runs is printed as one line naming the file, key, path or address
 * and exits non-zero (78 for configuration, 1 otherwise); nothing half-written
 * is left behind except the data dir itself.
 * Leader duties (only once the member is a ready leader, re-done every term):
 * assert this node's cluster-section hash (a mismatch is fatal), activate each
 * group's initial region once, and commit changes in which members the leader
 * hears from. Shutdown (SIGTERM/SIGINT): a leader hands leadership over first,
 * then everything closes and the loop ends with uv_loop_close() == 0. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "baton_config.h"
#include "log.h"
#include "peer.h"
#include "sdnotify.h"
#include "util.h"

#define TICK_MS 200

static void node_stop(struct baton_node *n, int exit_code);
static void node_request_stop(struct baton_node *n, int exit_code);

/* ------------------------------------------------------------- leader info */

const struct baton_member_config *baton_node_leader(struct baton_node *n)
{
	struct baton_member_status st;

	baton_member_status(&n->member, &st);
	return st.leader_id != 0 ? baton_config_member(&n->cfg.cluster, st.leader_id) : NULL;
}

bool baton_node_caught_up(struct baton_node *n)
{
	struct baton_member_status st;

	if (!n->member_inited)
		return false;
	baton_member_status(&n->member, &st);
	if (st.role == BATON_ROLE_LEADER)
		return st.leader_ready;
	return st.role == BATON_ROLE_FOLLOWER && st.leader_id != 0 &&
	       st.ms_since_leader_contact <= n->cfg.cluster.raft.election_timeout_ms &&
	       st.applied_index >= st.commit_index;
}

/* ------------------------------------------------------- config agreement */

/* Compare the committed cluster section with ours. Returns false (after
 * stopping the node) on a mismatch that this node cannot resolve. */
static bool check_config_agreement(struct baton_node *n)
{
	const struct baton_fsm_state *st = n->fsm.st;
	uint64_t mine = n->cfg.cluster.generation;

	if (st->generation == 0 || (st->generation == mine && strcmp(st->conf_hash, n->cluster_hash) == 0))
		return true;
	if (st->generation < mine)
		return true; /* we are ahead; a leader with our config will adopt it */
	if (st->generation == mine)
		log_crit("config",
			 "this node's cluster section differs from the one the cluster runs with; every node "
			 "needs the same cluster section (compare 'batond --check-config -v' output)",
			 "generation=%llu hash=%.16s cluster_hash=%.16s", (unsigned long long)mine,
			 n->cluster_hash, st->conf_hash);
	else
		log_crit("config",
			 "the cluster runs a newer cluster section than this node's; update this node's config",
			 "generation=%llu cluster_generation=%llu", (unsigned long long)mine,
			 (unsigned long long)st->generation);
	node_request_stop(n, BATON_EXIT_CONFIG);
	return false;
}

static void exec_kick_cb(uv_timer_t *t)
{
	struct baton_node *n = t->data;

	if (n->stopping)
		return;
	baton_coord_holder_kick(n);
	if (n->config_done)
		baton_exec_tick(n);
}

void baton_node_kick_exec(struct baton_node *n)
{
	if (n->exec_kick_inited && !n->stopping)
		uv_timer_start(&n->exec_kick, exec_kick_cb, 0, 0);
}

static void on_apply(void *data, const struct baton_fsm_result *res, const Baton__Command *cmd)
{
	struct baton_node *n = data;

	/* A transition that began or a step that ended lets the next steps start,
	 * and the region taking over must ask for its lease at once: run the
	 * holder's duties and the executor on the next loop turn instead of up
	 * to a tick later (the 200 ms tick cost a failover up to 0.2 s per step).
	 * One pass per loop turn however many entries were applied; not from
	 * inside apply. */
	if (cmd->body_case == BATON__COMMAND__BODY_TRANSITION_BEGIN ||
	    cmd->body_case == BATON__COMMAND__BODY_TRANSITION_END ||
	    cmd->body_case == BATON__COMMAND__BODY_ACTIVATE ||
	    cmd->body_case == BATON__COMMAND__BODY_STEP_UPDATE ||
	    cmd->body_case == BATON__COMMAND__BODY_OPERATOR)
		baton_node_kick_exec(n);
	if (cmd->body_case == BATON__COMMAND__BODY_CLUSTER_CONFIG && res->code == BATON_FSM_OK)
		(void)check_config_agreement(n);
	if (cmd->body_case == BATON__COMMAND__BODY_ACTIVATE && res->code == BATON_FSM_OK)
		log_notice("fsm", "active region changed", "index=%llu epoch=%llu region=%s",
			   (unsigned long long)res->index, (unsigned long long)res->epoch, cmd->activate->region);
}

/* ----------------------------------------------------------- leader duties */

/* A new command proposed by this node: fresh cmd_id, wall time (display and
 * nonce expiry only), proposer id. */
void baton_node_cmd_init(struct baton_node *n, Baton__Command *cmd, char id[BATON_ID_LEN], const char *group)
{
	baton__command__init(cmd);
	baton_random_id(id);
	cmd->cmd_id = id;
	cmd->has_proposed_at_ms = true;
	cmd->proposed_at_ms = baton_wall_ms();
	cmd->has_proposer = true;
	cmd->proposer = n->cfg.node.id;
	cmd->group = (char *)(group != NULL ? group : "");
}

static void config_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct baton_node *n = data;

	n->config_pending = false;
	if (status != 0) {
		log_info("leader", "cluster config proposal not confirmed; will retry", "error=\"%s\"",
			 baton_member_strerror(status));
		return;
	}
	if (res->code == BATON_FSM_CONFLICT) {
		log_crit("config", "this node's cluster section conflicts with the committed one", "reason=\"%s\"",
			 res->message);
		node_request_stop(n, BATON_EXIT_CONFIG);
		return;
	}
	n->config_done = true;
}

static void propose_config(struct baton_node *n)
{
	const struct baton_cluster_config *cc = &n->cfg.cluster;
	Baton__Command cmd;
	Baton__ClusterConfig body = BATON__CLUSTER_CONFIG__INIT;
	Baton__RegionSpec specs[BATON_MAX_REGIONS], *specp[BATON_MAX_REGIONS];
	char *groups[BATON_MAX_GROUPS];
	char id[BATON_ID_LEN];
	int rv;

	baton_node_cmd_init(n, &cmd, id, NULL);
	body.generation = cc->generation;
	body.hash = n->cluster_hash;
	for (unsigned i = 0; i < cc->n_regions; i++) {
		baton__region_spec__init(&specs[i]);
		specs[i].name = (char *)cc->regions[i].name;
		specs[i].has_priority = true;
		specs[i].priority = cc->regions[i].priority;
		specp[i] = &specs[i];
	}
	body.n_regions = cc->n_regions;
	body.regions = specp;
	for (unsigned i = 0; i < cc->n_groups; i++)
		groups[i] = (char *)cc->groups[i].name;
	body.n_groups = cc->n_groups;
	body.groups = groups;
	cmd.body_case = BATON__COMMAND__BODY_CLUSTER_CONFIG;
	cmd.cluster_config = &body;
	rv = baton_member_propose(&n->member, &cmd, config_cb, n);
	if (rv == 0)
		n->config_pending = true;
}

static void activate_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct baton_node *n = data;

	n->activate_pending = false;
	if (status == 0 && res->code != BATON_FSM_OK && res->code != BATON_FSM_DUPLICATE)
		log_warn("leader", "initial activation rejected", "reason=\"%s\"", res->message);
}

/* Each group starts with no active region; the first leader activates the
 * configured initial region at epoch 0 -> 1, conditionally, so two leaders
 * racing produce one activation. */
static void propose_initial_activation(struct baton_node *n)
{
	for (unsigned i = 0; i < n->cfg.cluster.n_groups; i++) {
		const struct baton_group_config *gc = &n->cfg.cluster.groups[i];
		const struct baton_group_state *g = baton_fsm_group(&n->fsm, gc->name);
		Baton__Command cmd;
		Baton__Activate act = BATON__ACTIVATE__INIT;
		char id[BATON_ID_LEN];

		if (g == NULL || g->epoch != 0 || g->active[0] != '\0' || gc->initial_active[0] == '\0')
			continue;
		baton_node_cmd_init(n, &cmd, id, gc->name);
		act.region = (char *)gc->initial_active;
		act.expect_epoch = 0;
		act.reason = "initial activation from the cluster config";
		act.by = "bootstrap";
		cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
		cmd.activate = &act;
		if (baton_member_propose(&n->member, &cmd, activate_cb, n) == 0) {
			n->activate_pending = true;
			return; /* one at a time */
		}
	}
}

static void reach_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct baton_node *n = data;
	(void)status;
	(void)res;
	n->reach_pending = false;
}

/* Commit which members the leader hears from, when that changes, so every
 * node's /v1/status can say how many more losses the cluster survives. */
static void propose_reachability(struct baton_node *n)
{
	struct baton_member_status st;
	const struct baton_fsm_state *fs = n->fsm.st;
	Baton__Command cmd;
	Baton__Reachability body = BATON__REACHABILITY__INIT;
	Baton__MemberReach mr[BATON_MEMBER_MAX], *mrp[BATON_MEMBER_MAX];
	char id[BATON_ID_LEN];
	bool changed;

	/* Give followers one election timeout to be heard from after we won. */
	baton_member_status(&n->member, &st);
	changed = fs->n_reach != st.n;
	for (unsigned i = 0; i < st.n; i++) {
		bool before = !st.members[i].reachable;
		for (unsigned j = 0; j < fs->n_reach; j++)
			if (fs->reach[j].id == st.members[i].id)
				before = fs->reach[j].reachable;
		changed = changed || before != st.members[i].reachable;
		baton__member_reach__init(&mr[i]);
		mr[i].id = st.members[i].id;
		mr[i].reachable = st.members[i].reachable;
		mrp[i] = &mr[i];
	}
	if (!changed)
		return;
	baton_node_cmd_init(n, &cmd, id, NULL);
	body.n_members = st.n;
	body.members = mrp;
	body.has_term = true;
	body.term = st.term;
	cmd.body_case = BATON__COMMAND__BODY_REACHABILITY;
	cmd.reachability = &body;
	if (baton_member_propose(&n->member, &cmd, reach_cb, n) == 0)
		n->reach_pending = true;
}

static void leader_duties(struct baton_node *n)
{
	struct baton_member_status st;

	if (n->stopping || n->stop_requested || !baton_member_is_ready_leader(&n->member))
		return;
	baton_member_status(&n->member, &st);
	if (n->duties_term != st.term) {
		n->duties_term = st.term;
		n->config_done = false;
	}
	if (!n->config_done) {
		if (!n->config_pending)
			propose_config(n);
		return;
	}
	if (!n->activate_pending)
		propose_initial_activation(n);
	if (!n->reach_pending && baton_member_now(&n->member) > n->started_ms + n->cfg.cluster.raft.election_timeout_ms)
		propose_reachability(n);
}

/* -------------------------------------------------------- member callbacks */

static void role_changed(void *data, int old_role, int new_role)
{
	struct baton_node *n = data;
	struct baton_member_status st;
	const struct baton_member_config *l;

	baton_member_status(&n->member, &st);
	l = st.leader_id ? baton_config_member(&n->cfg.cluster, st.leader_id) : NULL;
	log_info("raft", "role changed", "from=%s to=%s term=%llu leader=%s",
		 old_role >= 0 ? baton_role_name(old_role) : "none", baton_role_name(new_role),
		 (unsigned long long)st.term, l != NULL ? l->name : "none");
}

static void leader_ready(void *data, uint64_t term)
{
	struct baton_node *n = data;

	/* The lease wait of a new leader counts from here (coord.c). */
	n->leader_since_ms = uv_now(n->loop);
	for (unsigned g = 0; g < BATON_MAX_GROUPS; g++) {
		n->groups[g].last_grant_ms = 0;
		n->groups[g].last_grant_epoch = 0;
		n->groups[g].holder_wait_epoch = 0;
		n->groups[g].down_since_ms = 0;
		n->groups[g].revoked = false;
		n->groups[g].proposing = false;
		n->groups[g].last_decision[0] = '\0';
	}

	log_notice("raft", "leading", "term=%llu witness=%s", (unsigned long long)term, n->witness ? "yes" : "no");
	leader_duties(n);
}

static void fatal(void *data, int rv, const char *msg)
{
	(void)data;
	log_crit("raft", "fatal: stopping so that systemd restarts a clean process", "error=\"%s\" code=%d",
		 msg, rv);
	/* Do not act on a state we can no longer persist: exit now. The raft log
	 * is durable; a restart re-applies what LMDB missed. */
	fflush(stderr);
	_exit(EXIT_FAILURE);
}

/* ---------------------------------------------------------------- the tick */

static void notify_systemd(struct baton_node *n)
{
	struct baton_member_status st;
	const struct baton_group_state *g = baton_fsm_group(&n->fsm, NULL);
	char status[160];
	uint64_t now = baton_member_now(&n->member);

	baton_member_status(&n->member, &st);
	snprintf(status, sizeof status, "STATUS=%s term %llu; active region %s (epoch %llu)",
		 baton_role_name(st.role), (unsigned long long)st.term,
		 g != NULL && g->active[0] ? g->active : "none", g != NULL ? (unsigned long long)g->epoch : 0ull);
	/* READY once the API listens and the node has joined (heard a leader
	 * or leads), so dependants start against a working member. */
	if (!n->notified_ready && baton_node_caught_up(n)) {
		char msg[200];
		snprintf(msg, sizeof msg, "READY=1\n%s", status);
		(void)baton_sd_notify(msg);
		n->notified_ready = true;
		memcpy(n->last_status, status, sizeof status);
		log_info("node", "joined the cluster", "role=%s term=%llu", baton_role_name(st.role),
			 (unsigned long long)st.term);
	} else if (strcmp(status, n->last_status) != 0) {
		(void)baton_sd_notify(status);
		memcpy(n->last_status, status, sizeof status);
	}
	/* The tick only runs while the loop turns, so a stuck loop stops the
	 * pings and systemd's watchdog restarts us. */
	if (n->watchdog_ms > 0 && now - n->last_watchdog_ms >= n->watchdog_ms / 2) {
		(void)baton_sd_notify("WATCHDOG=1");
		n->last_watchdog_ms = now;
	}
}

#define LAG_PERIOD_MS 100

static void lag_cb(uv_timer_t *t)
{
	struct baton_node *n = t->data;
	uint64_t now;

	uv_update_time(n->loop);
	now = uv_now(n->loop);
	n->lag_last_ms = now > n->lag_expected_ms ? now - n->lag_expected_ms : 0;
	if (n->lag_last_ms > n->lag_max_ms)
		n->lag_max_ms = n->lag_last_ms;
	n->lag_expected_ms = now + LAG_PERIOD_MS;
}

static void tick_cb(uv_timer_t *t)
{
	struct baton_node *n = t->data;

	if (n->stopping)
		return;
	leader_duties(n);
	if (n->config_done || !baton_member_is_ready_leader(&n->member)) {
		baton_coord_tick(n);
		baton_exec_tick(n);
	}
	baton_node_recover_tick(n);
	notify_systemd(n);
}

/* ---------------------------------------------------------------- shutdown */

static void handle_closed(uv_handle_t *h)
{
	struct baton_node *n = h->data;
	n->pending_closes--;
}

static void http_closed(struct baton_http_server *s)
{
	struct baton_node *n = s->data;
	n->pending_closes--;
}

static void member_closed(struct baton_member *m)
{
	struct baton_node *n = BATON_CONTAINER_OF(m, struct baton_node, member);
	n->pending_closes--;
}

static void detect_closed(struct baton_detect *d)
{
	struct baton_node *n = BATON_CONTAINER_OF(d, struct baton_node, detect);
	n->pending_closes--;
}

static void http_client_closed(struct baton_http_client *c)
{
	struct baton_node *n = BATON_CONTAINER_OF(c, struct baton_node, http_client);
	n->pending_closes--;
}

static void node_stop(struct baton_node *n, int exit_code)
{
	if (n->stopping)
		return;
	n->stopping = true;
	n->exit_code = exit_code;
	(void)baton_sd_notify("STOPPING=1");
	uv_timer_stop(&n->tick);
	baton_exec_close(n);
	if (n->http_inited) {
		n->pending_closes++;
		baton_http_server_close(&n->http, http_closed);
	}
	if (n->member_inited) {
		n->pending_closes++;
		baton_member_close(&n->member, member_closed);
	}
	if (n->detect_inited) {
		n->pending_closes++;
		baton_detect_close(&n->detect, detect_closed);
	}
	if (n->http_client_inited) {
		n->pending_closes++;
		baton_http_client_close(&n->http_client, http_client_closed);
	}
	n->pending_closes += 5;
	if (n->exec_kick_inited) {
		n->pending_closes++;
		uv_close((uv_handle_t *)&n->exec_kick, handle_closed);
	}
	uv_close((uv_handle_t *)&n->lag_timer, handle_closed);
	uv_close((uv_handle_t *)&n->stop_timer, handle_closed);
	uv_close((uv_handle_t *)&n->tick, handle_closed);
	uv_close((uv_handle_t *)&n->sigterm, handle_closed);
	uv_close((uv_handle_t *)&n->sigint, handle_closed);
}

static void stop_timer_cb(uv_timer_t *t)
{
	struct baton_node *n = t->data;
	node_stop(n, n->exit_code);
}

/* Stop from inside a raft or FSM callback: closing raft there would close
 * its transport handles under the callback that is running, so the stop
 * happens on the next loop iteration instead. Until then nothing new is
 * proposed (stopping is checked by every duty). */
static void node_request_stop(struct baton_node *n, int exit_code)
{
	if (n->stopping || n->stop_requested)
		return;
	n->stop_requested = true;
	n->exit_code = exit_code;
	uv_timer_start(&n->stop_timer, stop_timer_cb, 0, 0);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct baton_node *n = h->data;

	log_notice("node", "stopping", "signal=%s role=%s", signum == SIGTERM ? "TERM" : "INT",
		   baton_role_name(baton_member_is_ready_leader(&n->member) ? BATON_ROLE_LEADER : BATON_ROLE_FOLLOWER));
	node_stop(n, EXIT_SUCCESS);
}

/* ---------------------------------------------------------------- start-up */

/* mkdir -p with 0700 for the last component; then lock it and prove it is
 * writable, so that "read-only file system" or "permission denied" is a
 * start-up error naming the path, not a raft I/O error later. */
int baton_node_prepare_data_dir(struct baton_node *n, const char *dir, char *err, size_t errlen)
{
	char path[BATON_PATH_LEN + 32];
	int fd;

	snprintf(path, sizeof path, "%s", dir);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "data dir '%s': cannot create '%s': %s", dir, path, strerror(errno));
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "data dir '%s': cannot create: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof path, "%s/raft", dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "data dir '%s': cannot create '%s': %s", dir, path, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof path, "%s/LOCK", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "data dir '%s' is not writable: %s", dir, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "data dir '%s' is in use by another process (lock '%s' held)", dir, path);
		close(fd);
		return -EBUSY;
	}
	if (write(fd, "baton\n", 6) != 6 || fsync(fd) != 0) {
		snprintf(err, errlen, "data dir '%s' is not writable: %s", dir, strerror(errno));
		close(fd);
		return -EIO;
	}
	n->lock_fd = fd;
	return 0;
}

/* libraft 0.15 reports a busy raft port as a bare "I/O error" from
 * raft_start; probe the address first so the message names it. (A race with
 * another process binding it in between only costs the better message.) */
static int check_port_free(const char *addr, const char *what, char *err, size_t errlen)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[32];
	int port, fd, one = 1, rv = 0;

	if (baton_parse_ipv4_port(addr, host, sizeof host, &port) != 0) {
		snprintf(err, errlen, "%s address '%s' is not an IPv4 address:port", what, addr);
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	(void)inet_pton(AF_INET, host, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		rv = -errno;
		snprintf(err, errlen, "%s address %s: cannot listen: %s", what, addr, strerror(errno));
	}
	close(fd);
	return rv;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s --config FILE [--check-config] [-v]\n"
		"       %s --config FILE --recover FILE1 FILE2\n"
		"       %s --version\n\n"
		"  -c, --config FILE    node configuration (default /etc/baton/baton.yaml)\n"
		"      --check-config   validate FILE and exit (0 valid, 78 invalid)\n"
		"  -v, --verbose        with --check-config: print the effective configuration\n"
		"      --recover F1 F2  with this node stopped, after the permanent loss of a majority:\n"
		"                       force the raft configuration to the voters named by two\n"
		"                       operators' signed recover commands (batonctl recover --out)\n"
		"      --version        print the version\n",
		prog, prog, prog);
}

static int check_only(const struct baton_node *n, const char *path, bool verbose)
{
	printf("%s: valid; cluster '%s' generation %llu hash %s; this node: member %u (%s)%s\n", path,
	       n->cfg.cluster.id, (unsigned long long)n->cfg.cluster.generation, n->cluster_hash, n->cfg.node.id,
	       n->cfg.self->name, n->cfg.self->witness ? ", witness" : "");
	if (verbose)
		baton_config_dump(&n->cfg, stdout);
	return EXIT_SUCCESS;
}

void baton_node_member_opts(const struct baton_node *n, struct baton_member_opts *mo, char *raft_dir, size_t len)
{
	memset(mo, 0, sizeof *mo);
	mo->id = n->cfg.node.id;
	snprintf(raft_dir, len, "%s/raft", n->cfg.node.data_dir);
	mo->data_dir = raft_dir;
	mo->bind = strcmp(n->cfg.node.raft_bind, n->cfg.self->raft) != 0 ? n->cfg.node.raft_bind : NULL;
	for (unsigned i = 0; i < n->cfg.cluster.n_members; i++) {
		mo->peers[i].id = n->cfg.cluster.members[i].id;
		baton_strlcpy(mo->peers[i].address, n->cfg.cluster.members[i].raft, sizeof mo->peers[i].address);
		mo->peers[i].witness = n->cfg.cluster.members[i].witness;
	}
	mo->n_peers = n->cfg.cluster.n_members;
	mo->election_ms = (unsigned)n->cfg.cluster.raft.election_timeout_ms;
	mo->heartbeat_ms = (unsigned)n->cfg.cluster.raft.heartbeat_ms;
	mo->snapshot_threshold = (unsigned)n->cfg.cluster.raft.snapshot_threshold;
	mo->snapshot_trailing = (unsigned)n->cfg.cluster.raft.snapshot_trailing;
	mo->connect_retry_ms = (unsigned)n->cfg.cluster.raft.connect_retry_ms;
	mo->witness = n->witness;
#ifdef BATON_UNSAFE_SKIP_FIG8_GUARD
	mo->guard_flags = 0;
#else
	mo->guard_flags = BATON_GUARD_ALL;
#endif
}

static int start(struct baton_node *n, uv_loop_t *loop, char *err, size_t errlen)
{
	struct baton_member_opts mo = {0};
	struct baton_member_cbs cbs = {.data = n, .role_changed = role_changed, .leader_ready = leader_ready,
				       .fatal = fatal};
	struct baton_http_server_opts ho = {0};
	char raft_dir[BATON_PATH_LEN + 8], host[32];
	int port, rv;

	n->loop = loop;
	rv = baton_node_prepare_data_dir(n, n->cfg.node.data_dir, err, errlen);
	if (rv != 0)
		return rv;
	rv = baton_fsm_open(&n->fsm, n->cfg.node.data_dir, err, errlen);
	if (rv != 0)
		return rv;
	n->fsm.on_apply = on_apply;
	n->fsm.on_apply_data = n;
	n->fsm.opkeys = &n->opkeys;
	if (!check_config_agreement(n)) {
		snprintf(err, errlen, "cluster section mismatch (see above)");
		return -EINVAL;
	}

	baton_node_recover_load(n);
	baton_node_member_opts(n, &mo, raft_dir, sizeof raft_dir);
#ifdef BATON_UNSAFE_SKIP_FIG8_GUARD
	log_crit("raft", "UNSAFE BUILD: Figure-8 commit guard disabled", NULL);
#endif
	rv = baton_member_init(&n->member, loop, &mo, &n->fsm, &cbs, err, errlen);
	if (rv != 0)
		return rv;
	n->member_inited = true;

	if (baton_parse_ipv4_port(n->cfg.node.api_listen, host, sizeof host, &port) != 0) {
		snprintf(err, errlen, "node.api_listen '%s' is not an IPv4 address:port", n->cfg.node.api_listen);
		return -EINVAL;
	}
	ho.host = host;
	ho.port = port;
	rv = baton_http_server_init(&n->http, loop, &ho, baton_api_handle, n, err, errlen);
	if (rv != 0)
		return rv;
	n->http.data = n;
	n->http_inited = true;

	rv = baton_http_client_init(&n->http_client, loop);
	if (rv != 0) {
		snprintf(err, errlen, "http client: %s", n->http_client.errmsg);
		return rv;
	}
	n->http_client_inited = true;
	rv = baton_peer_init(n, n->cfg.node.peer_key_file, err, errlen);
	if (rv != 0)
		return rv;
	rv = baton_health_init(n, err, errlen);
	if (rv != 0)
		return rv;
	rv = baton_detect_init(&n->detect, loop, &n->http_client, &n->cfg.cluster, n->cfg.self->name,
			       baton_coord_observed, n);
	if (rv != 0) {
		snprintf(err, errlen, "probes: %s", uv_strerror(rv));
		return rv;
	}
	n->detect_inited = true;
	rv = check_port_free(n->cfg.node.raft_bind, "raft", err, errlen);
	if (rv != 0)
		return rv;
	rv = baton_member_start(&n->member, err, errlen);
	if (rv != 0)
		return rv;

	uv_signal_init(loop, &n->sigterm);
	uv_signal_init(loop, &n->sigint);
	n->sigterm.data = n->sigint.data = n;
	uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&n->sigint, signal_cb, SIGINT);
	uv_timer_init(loop, &n->tick);
	n->tick.data = n;
	uv_timer_init(loop, &n->exec_kick);
	n->exec_kick.data = n;
	n->exec_kick_inited = true;
	uv_timer_init(loop, &n->stop_timer);
	n->stop_timer.data = n;
	uv_timer_init(loop, &n->lag_timer);
	n->lag_timer.data = n;
	n->lag_expected_ms = uv_now(loop) + LAG_PERIOD_MS;
	uv_timer_start(&n->lag_timer, lag_cb, LAG_PERIOD_MS, LAG_PERIOD_MS);
	uv_timer_start(&n->tick, tick_cb, TICK_MS, TICK_MS);
	n->started_ms = uv_now(loop);
	n->watchdog_ms = baton_sd_watchdog_ms();
	return 0;
}

int baton_node_main(int argc, char **argv, bool witness)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'k'},
		{"verbose", no_argument, NULL, 'v'},      {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},         {"recover", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	const char *prog = witness ? "baton-witness" : "batond";
	const char *path = "/etc/baton/baton.yaml";
	bool check = false, verbose = false, recover = false;
	struct baton_node *n;
	uv_loop_t loop;
	char err[512];
	int c, rv, code;

	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'R':
			recover = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V':
			printf("%s %s\n", prog, BATON_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout, prog);
			return EXIT_SUCCESS;
		default:
			usage(stderr, prog);
			return 2;
		}
	}
	if (optind != argc && !recover) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr, prog);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	n = calloc(1, sizeof *n);
	if (n == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EXIT_FAILURE;
	}
	n->lock_fd = -1;
	n->witness = witness;
	rv = baton_config_load(path, &n->cfg, err, sizeof err);
	if (rv == 0 && witness != n->cfg.self->witness) {
		snprintf(err, sizeof err, "%s: node.id %u is %s; run %s for it", path, n->cfg.node.id,
			 n->cfg.self->witness ? "a witness member" : "a region member",
			 n->cfg.self->witness ? "baton-witness" : "batond");
		rv = -EINVAL;
	}
	if (rv != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		free(n);
		return BATON_EXIT_CONFIG;
	}
	baton_config_cluster_hash(&n->cfg.cluster, n->cluster_hash);
	/* Operator keys: the FSM verifies commands with exactly these. */
	baton_strlcpy(n->opkeys.cluster_id, n->cfg.cluster.id, sizeof n->opkeys.cluster_id);
	n->opkeys.max_validity_ms = n->cfg.cluster.commands.max_validity_ms;
	n->opkeys.max_skew_ms = n->cfg.cluster.commands.max_skew_ms;
	for (unsigned i = 0; i < n->cfg.cluster.n_operators; i++) {
		const struct baton_operator_config *oc = &n->cfg.cluster.operators[i];
		if (baton_opkeys_add(&n->opkeys, oc->name, oc->public_key, oc->operations, err, sizeof err) != 0) {
			fprintf(stderr, "%s: %s: cluster.operators[%u]: %s\n", prog, path, i, err);
			free(n);
			return BATON_EXIT_CONFIG;
		}
	}
	if (check) {
		code = check_only(n, path, verbose);
		free(n);
		return code;
	}
	if (recover) {
		rv = baton_node_recover_offline(n, argv + optind, (unsigned)(argc - optind), err, sizeof err);
		if (rv != 0)
			fprintf(stderr, "%s: recover: nothing changed: %s\n", prog, err);
		if (n->lock_fd >= 0)
			close(n->lock_fd);
		free(n);
		return rv == 0 ? EXIT_SUCCESS : rv == -EINVAL ? 2 : EXIT_FAILURE;
	}
	baton_log_init(n->cfg.node.log_level, prog);
	uv_loop_init(&loop);
	rv = start(n, &loop, err, sizeof err);
	if (rv != 0) {
		log_crit("node", "cannot start", "error=\"%s\"", err);
		fprintf(stderr, "%s: %s\n", prog, err);
		code = rv == -EINVAL ? BATON_EXIT_CONFIG : EXIT_FAILURE;
		/* Close what was opened so the loop can be closed cleanly. */
		if (!n->stopping) {
			n->stopping = true;
			if (n->http_inited)
				baton_http_server_close(&n->http, NULL);
			if (n->member_inited)
				baton_member_close(&n->member, NULL);
			if (n->detect_inited)
				baton_detect_close(&n->detect, NULL);
			if (n->http_client_inited)
				baton_http_client_close(&n->http_client, NULL);
		}
		uv_run(&loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&loop);
		baton_fsm_close(&n->fsm);
		free(n);
		return code;
	}
	log_info("node", "started", "member=%u name=%s witness=%s api=%s raft=%s data_dir=%s transport=plaintext",
		 n->cfg.node.id, n->cfg.self->name, witness ? "yes" : "no", n->cfg.node.api_listen, n->cfg.self->raft,
		 n->cfg.node.data_dir);
	uv_run(&loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&loop);
	if (rv != 0)
		log_error("node", "loop did not close cleanly", "error=%s", uv_strerror(rv));
	code = n->exit_code;
	baton_health_done(n);
	baton_node_recover_done(n);
	baton_fsm_close(&n->fsm);
	if (n->lock_fd >= 0)
		close(n->lock_fd);
	log_info("node", "stopped", "exit=%d", code);
	free(n);
	return code;
}
