/* SPDX-License-Identifier: MIT */
/* Forced reconfiguration after the permanent loss of a majority.
 *
 * With two of four members gone for good nothing can commit, so nothing can
 * move the active region, and the cluster stays fail-closed. The way out is
 * raft_recover(): on every SURVIVING member, with its process stopped, the
 * raft configuration is forced to the survivors. Because that step bypasses
 * Raft itself it is guarded the way dangerous commands are: two operators sign
 * a `recover` command naming the same voters (`batonctl recover --voters ...
 * --out FILE`), and `batond --recover FILE1 FILE2` checks both before touching
 * the log:
 *
 *   1. both envelopes verify (signature, authorized for "recover", this cluster,
 *      not expired), two different keys, the same voters;
 *   2. the voters are members of this node's cluster section, this node is one
 *      of them, at least one is a region member, and some member is left out;
 *   3. the data dir is not in use (its lock) and holds state (a member that
 *      never joined has nothing to recover), and this recovery was not already
 *      recorded (the FSM's nonce set);
 *   4. raft_recover() with the voters (raft/member.c);
 *   5. a marker, <data_dir>/recover.pending, keeps a baton.Recovery (both
 *      envelopes, the wall-clock time of the check, the voter ids).
 *
 * Started again, the survivors elect a leader among themselves; the first ready
 * leader with a marker commits the Recovery. The FSM checks the envelopes again
 * as of the recorded time, burns their nonces for good and bumps every group's
 * epoch (raft/fsm.c apply_recovery). Every member drops its marker once the
 * FSM shows the recovery recorded.
 *
 * The members that were left out must never come back with their data dirs:
 * their logs still name the old configuration (docs/runbook.md, "Lost
 * majority"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "node.h"

#define RECOVER_MARKER "recover.pending"
#define RECOVER_REJECTED "recover.rejected"
#define RECOVER_MAX_FILE (2 * BATON_OPCMD_MAX_BYTES)

static int read_small_file(const char *path, uint8_t **ret, size_t *ret_len, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len = 0;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	buf = malloc(RECOVER_MAX_FILE + 1);
	if (buf == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while ((got = read(fd, buf + len, RECOVER_MAX_FILE + 1 - len)) > 0 && len < RECOVER_MAX_FILE + 1)
		len += (size_t)got;
	close(fd);
	if (got < 0 || len > RECOVER_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, got < 0 ? strerror(errno) : "larger than any signed command");
		free(buf);
		return got < 0 ? -EIO : -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* "eu-west-1,witness" or "1,4" -> member ids (names or ids, as members are
 * listed in the cluster section). */
static int resolve_voters(const struct baton_config *cfg, const char *list, uint32_t *ids, unsigned *n_ids, char *err,
			  size_t errlen)
{
	char buf[BATON_TEXT_MAX], *save = NULL;

	*n_ids = 0;
	baton_strlcpy(buf, list, sizeof buf);
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		const struct baton_member_config *m = NULL;
		for (unsigned i = 0; i < cfg->cluster.n_members && m == NULL; i++) {
			char id[16];
			snprintf(id, sizeof id, "%u", cfg->cluster.members[i].id);
			if (strcmp(cfg->cluster.members[i].name, t) == 0 || strcmp(id, t) == 0)
				m = &cfg->cluster.members[i];
		}
		if (m == NULL) {
			snprintf(err, errlen, "voter '%s' is not a member of cluster '%s' (members are named in the cluster "
					      "section)", t, cfg->cluster.id);
			return -EINVAL;
		}
		for (unsigned i = 0; i < *n_ids; i++)
			if (ids[i] == m->id) {
				snprintf(err, errlen, "voter '%s' is listed twice", t);
				return -EINVAL;
			}
		if (*n_ids == BATON_MEMBER_MAX) {
			snprintf(err, errlen, "too many voters");
			return -EINVAL;
		}
		ids[(*n_ids)++] = m->id;
	}
	return 0;
}

static const struct baton_member_config *member_by_id(const struct baton_config *cfg, uint32_t id)
{
	for (unsigned i = 0; i < cfg->cluster.n_members; i++)
		if (cfg->cluster.members[i].id == id)
			return &cfg->cluster.members[i];
	return NULL;
}

static Baton__SignedEnvelope *read_envelope(const char *path, char *err, size_t errlen)
{
	Baton__SignedEnvelope *env;
	uint8_t *buf;
	size_t len;

	if (read_small_file(path, &buf, &len, err, errlen) != 0)
		return NULL;
	env = baton__signed_envelope__unpack(NULL, len, buf);
	free(buf);
	if (env == NULL)
		snprintf(err, errlen, "%s: not a signed command (a baton.SignedEnvelope, as written by "
				      "'batonctl recover --out FILE')", path);
	return env;
}

int baton_node_recover_offline(struct baton_node *n, char *const files[], unsigned n_files, char *err, size_t errlen)
{
	Baton__SignedEnvelope *envs[2] = {NULL, NULL};
	Baton__Recovery rec = BATON__RECOVERY__INIT;
	struct baton_member_opts mo;
	uint8_t nonces[2][32], *packed = NULL;
	size_t nonce_lens[2], len;
	uint32_t ids[BATON_MEMBER_MAX];
	unsigned n_ids = 0, regions = 0;
	char voters[BATON_TEXT_MAX], by[160], why[BATON_TEXT_MAX], raft_dir[BATON_PATH_LEN + 8];
	uint64_t now = baton_wall_ms();
	bool self_in = false, fsm_open = false;
	int rv = -EINVAL;

	if (n_files != 2) {
		snprintf(err, errlen, "--recover needs the two signed recover commands (FILE1 FILE2), by two operators");
		return -EINVAL;
	}
	for (unsigned i = 0; i < 2; i++)
		if ((envs[i] = read_envelope(files[i], err, errlen)) == NULL)
			goto out;
	if (baton_recovery_verify(&n->opkeys, envs, 2, now, voters, sizeof voters, by, sizeof by, nonces, nonce_lens,
				  why, sizeof why) != BATON_OPCMD_OK) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (resolve_voters(&n->cfg, voters, ids, &n_ids, err, errlen) != 0)
		goto out;
	for (unsigned i = 0; i < n_ids; i++) {
		const struct baton_member_config *m = member_by_id(&n->cfg, ids[i]);
		self_in |= ids[i] == n->cfg.node.id;
		regions += !m->witness;
	}
	if (!self_in) {
		snprintf(err, errlen, "this member (%s, id %u) is not among the voters '%s': run --recover only on the "
				      "members that stay", n->cfg.self->name, n->cfg.node.id, voters);
		goto out;
	}
	if (regions == 0) {
		snprintf(err, errlen, "the voters '%s' are all witnesses: at least one region member must stay", voters);
		goto out;
	}
	if (n_ids == n->cfg.cluster.n_members) {
		snprintf(err, errlen, "every member is a voter in '%s': nothing is lost, so there is nothing to recover "
				      "(start the members instead)", voters);
		goto out;
	}
	/* The lock proves no batond runs on this data dir; held until we exit. */
	rv = baton_node_prepare_data_dir(n, n->cfg.node.data_dir, err, errlen);
	if (rv != 0)
		goto out;
	rv = baton_fsm_open(&n->fsm, n->cfg.node.data_dir, err, errlen);
	if (rv != 0)
		goto out;
	fsm_open = true;
	rv = -EINVAL;
	if (n->fsm.st->applied_index == 0) {
		snprintf(err, errlen, "data dir '%s' holds no cluster state: this member never joined, or its data is "
				      "lost; recover on members that kept theirs", n->cfg.node.data_dir);
		goto out;
	}
	if (baton_fsm_nonce_seen(&n->fsm, nonces[0], nonce_lens[0]) || baton_fsm_nonce_seen(&n->fsm, nonces[1], nonce_lens[1])) {
		snprintf(err, errlen, "these recover commands were used before (the cluster recorded their nonces): "
				      "sign new ones");
		goto out;
	}
	baton_node_member_opts(n, &mo, raft_dir, sizeof raft_dir);
	rv = baton_member_recover(&mo, ids, n_ids, err, errlen);
	if (rv != 0)
		goto out;

	rec.n_envelopes = 2;
	rec.envelopes = envs;
	rec.recovered_at_ms = now;
	rec.n_voters = n_ids;
	rec.voters = ids;
	rec.member = (char *)n->cfg.self->name;
	len = baton__recovery__get_packed_size(&rec);
	packed = malloc(len ? len : 1);
	if (packed == NULL) {
		snprintf(err, errlen, "out of memory");
		rv = -ENOMEM;
		goto out;
	}
	baton__recovery__pack(&rec, packed);
	rv = baton_write_file_atomic(n->cfg.node.data_dir, RECOVER_MARKER, packed, len, err, errlen);
	if (rv != 0)
		goto out;
	printf("recovered: member %s (id %u) now belongs to a raft configuration of %u voter(s): %s\n"
	       "signed by %s; applied index %" PRIu64 "\n"
	       "Run the same command on every other voter, then start them all. The first leader records the\n"
	       "recovery in the history and moves every group's epoch up by one. The members left out must not\n"
	       "be started again with their data dirs.\n",
	       n->cfg.self->name, n->cfg.node.id, n_ids, voters, by, n->fsm.st->applied_index);
	log_notice("recover", "raft configuration forced; recovery pending until a leader records it",
		   "voters=\"%s\" by=\"%s\"", voters, by);
	rv = 0;
out:
	free(packed);
	for (unsigned i = 0; i < 2; i++)
		if (envs[i] != NULL)
			baton__signed_envelope__free_unpacked(envs[i], NULL);
	if (fsm_open)
		baton_fsm_close(&n->fsm);
	return rv;
}

/* ------------------------------------------------------------------ online */

static void marker_path(const struct baton_node *n, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", n->cfg.node.data_dir, name);
}

void baton_node_recover_load(struct baton_node *n)
{
	char path[BATON_PATH_LEN + 64], err[256];
	uint8_t *buf;
	size_t len;

	marker_path(n, RECOVER_MARKER, path, sizeof path);
	if (access(path, F_OK) != 0)
		return;
	if (read_small_file(path, &buf, &len, err, sizeof err) != 0) {
		log_error("recover", "cannot read the recovery marker", "error=\"%s\"", err);
		return;
	}
	n->recovery = baton__recovery__unpack(NULL, len, buf);
	free(buf);
	if (n->recovery == NULL || n->recovery->n_envelopes != 2)
		log_error("recover", "the recovery marker is not a baton.Recovery; ignored", "path=%s", path);
	else
		log_notice("recover", "a forced reconfiguration is pending: the first leader records it", "path=%s", path);
	if (n->recovery != NULL && n->recovery->n_envelopes != 2) {
		baton__recovery__free_unpacked(n->recovery, NULL);
		n->recovery = NULL;
	}
}

static void recover_drop(struct baton_node *n, const char *rename_to)
{
	char path[BATON_PATH_LEN + 64], to[BATON_PATH_LEN + 64];

	marker_path(n, RECOVER_MARKER, path, sizeof path);
	if (rename_to != NULL) {
		marker_path(n, rename_to, to, sizeof to);
		(void)rename(path, to);
	} else {
		(void)unlink(path);
	}
	baton__recovery__free_unpacked(n->recovery, NULL);
	n->recovery = NULL;
}

/* Whether the FSM has burnt the nonce of the marker's first envelope. */
static bool recovery_recorded(struct baton_node *n)
{
	Baton__CommandBody *b;
	const Baton__SignedEnvelope *e = n->recovery->envelopes[0];
	bool seen;

	b = baton__command_body__unpack(NULL, e->body.len, e->body.data);
	if (b == NULL)
		return false;
	seen = baton_fsm_nonce_seen(&n->fsm, b->nonce.data, b->nonce.len);
	baton__command_body__free_unpacked(b, NULL);
	return seen;
}

static void recovery_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct baton_node *n = data;

	n->recovery_proposing = false;
	if (n->recovery == NULL || n->stopping)
		return;
	if (status != 0) {
		log_warn("recover", "recording the recovery failed; will retry", "error=\"%s\"",
			 baton_member_strerror(status));
		return;
	}
	if (res->code == BATON_FSM_OK || res->code == BATON_FSM_REPLAY || res->code == BATON_FSM_DUPLICATE) {
		log_notice("recover", "recovery recorded", "index=%" PRIu64 " epoch=%" PRIu64 " result=%s", res->index,
			   res->epoch, baton_fsm_code_name(res->code));
		recover_drop(n, NULL);
	} else {
		/* Not retried: the same bytes would be refused again. */
		log_crit("recover", "the cluster refused to record the recovery; marker kept as " RECOVER_REJECTED,
			 "code=%s error=\"%s\"", baton_fsm_code_name(res->code), res->message);
		recover_drop(n, RECOVER_REJECTED);
	}
}

void baton_node_recover_tick(struct baton_node *n)
{
	Baton__Command cmd;
	char id[BATON_ID_LEN];
	int rv;

	if (n->recovery == NULL || n->recovery_proposing)
		return;
	if (recovery_recorded(n)) {
		log_notice("recover", "the cluster has recorded the recovery; marker removed", NULL);
		recover_drop(n, NULL);
		return;
	}
	if (!baton_member_is_ready_leader(&n->member))
		return;
	baton_node_cmd_init(n, &cmd, id, NULL);
	cmd.body_case = BATON__COMMAND__BODY_RECOVERY;
	cmd.recovery = n->recovery;
	rv = baton_member_propose(&n->member, &cmd, recovery_cb, n);
	if (rv == 0)
		n->recovery_proposing = true;
}

void baton_node_recover_done(struct baton_node *n)
{
	if (n->recovery != NULL)
		baton__recovery__free_unpacked(n->recovery, NULL);
	n->recovery = NULL;
}
