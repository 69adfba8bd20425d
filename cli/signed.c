/* SPDX-License-Identifier: MIT */
/* batonctl's signed commands: switchover, failover, failback, freeze, unfreeze,
 * drill, retry-step, skip-step, approve, reverse, recover.
 *
 * They share everything but their arguments, so one file holds them, with a
 * table that says which options each takes. The flow:
 *
 *   1. options (exit 2 on a usage error),
 *   2. the operator key from --key FILE or $BATON_KEY (exit 6 on any key problem),
 *   3. GET /v1/status (the leader's, when a node names one) for the cluster id
 *      and the group's epoch: the command is conditional on the state the
 *      operator saw (--cluster-id and --epoch override; with both, nothing is
 *      asked),
 *   4. a baton.CommandBody (op, args, issued/expires, 16-byte nonce, cluster
 *      id, expected epoch, group), signed with crypto_sign_detached, wrapped in
 *      a baton.SignedEnvelope {body, signature, key_id},
 *   5. POST /v1/commands (application/x-protobuf), following a follower's 307
 *      to the leader with method and body kept; or, with --dry-run, nothing is
 *      sent and --out FILE receives the envelope bytes.
 *
 * The command id the cluster uses (and `approve` takes) is the hex of the
 * nonce's first 8 bytes, so it is known before sending. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "baton.pb-c.h"
#include "cli.h"
#include "client.h"
#include "opcmd.h"
#include "opkey.h"
#include "util.h"

#define SIGNED_DEFAULT_TTL_S 300
#define SIGNED_MAX_TTL_S 86400
#define SIGNED_POST_TIMEOUT_MS 15000 /* the leader answers once the command is committed */
#define SIGNED_NONCE_LEN 16
#define SIGNED_MAX_ARGS 8

enum {
	NEED_TO = 1u << 0,
	ALLOW_TO = 1u << 1,
	ALLOW_FORCE = 1u << 2,
	NEED_STEP = 1u << 3,
	ALLOW_TRANSITION = 1u << 4,
	NEED_ID = 1u << 5,
	NEED_REASON = 1u << 6,
	ALLOW_REGION = 1u << 7,
	NEED_VOTERS = 1u << 8,   /* recover: cluster-wide, never sent, only written with --out */
};

static const struct signed_op {
	const char *name; /* the subcommand, and CommandBody.op */
	unsigned flags;
	const char *synopsis;
	const char *what;
} signed_ops[] = {
	{"switchover", NEED_TO | ALLOW_TO, "--to REGION",
	 "Planned move of the baton to REGION: fence the old primary, let the replica catch up\n"
	 "(RPO 0), promote. Refused unless REGION could take over now."},
	{"failover", NEED_TO | ALLOW_TO | ALLOW_FORCE, "--to REGION [--force]",
	 "Unplanned move of the baton to REGION. Refused unless REGION could take over now;\n"
	 "--force skips that check and then needs a second operator ('batonctl approve ID')."},
	{"failback", ALLOW_TO, "[--to REGION]",
	 "Move the baton back to the region that was active before (or to REGION)."},
	{"freeze", NEED_REASON, "--reason TEXT",
	 "Maintenance mode: no automatic failover for the group until 'batonctl unfreeze'.\n"
	 "Operators can still act. Status shows who froze it and why."},
	{"unfreeze", 0, "", "Allow automatic failover for the group again."},
	{"drill", NEED_TO | ALLOW_TO, "--to REGION",
	 "Run the plan to REGION in drill mode: the epoch and the active region stay; every step's\n"
	 "duration is recorded."},
	{"retry-step", NEED_STEP | ALLOW_TRANSITION, "--step STEP [--transition ID]",
	 "Run a failed step of the group's transition again (and the transition with it)."},
	{"skip-step", NEED_STEP | ALLOW_TRANSITION, "--step STEP [--transition ID]",
	 "Mark a failed or pending step as skipped so the transition goes on. Needs a second\n"
	 "operator ('batonctl approve ID')."},
	{"approve", NEED_ID, "ID",
	 "Approve command ID (failover --force or skip-step) that another operator proposed; it is\n"
	 "executed now. The proposer's key cannot approve its own command."},
	{"reverse", ALLOW_REGION, "[--region REGION]",
	 "After a failover, have REGION (default: the region active before) rejoin as a replica of\n"
	 "the active region: its own coordinator runs its rejoin steps (e.g. pg_rewind)."},
	{"recover", NEED_VOTERS, "--voters MEMBER,... --out FILE",
	 "After the PERMANENT loss of a majority: sign the forced reconfiguration that keeps only the\n"
	 "members named (by name or id). Nothing is sent: two operators each write one file, and\n"
	 "'batond --recover FILE1 FILE2' runs on every surviving member while it is stopped\n"
	 "(docs/runbook.md, \"Lost majority\"). The first leader afterwards records it and moves every\n"
	 "group's epoch up by one. The members left out must never start again with their data."},
};

struct signed_args {
	const struct signed_op *op;
	const char *to, *step, *transition, *reason, *group, *key_path, *cluster, *cluster_id, *out, *id, *region;
	char voters[256]; /* --voters, sorted, without duplicates: both operators sign the same text */
	bool force, json, dry_run, has_epoch;
	uint64_t ttl_s, epoch;
};

/* What the command is about: from the cluster, or from --cluster-id/--group/--epoch. */
struct signed_context {
	char cluster_id[64];
	char group[64];   /* "" = the cluster's default group (only with --cluster-id and --epoch) */
	uint64_t epoch;
	char active[64];  /* as the node asked saw it; "" if not asked */
	char previous[64]; /* the region active before; "" if none or not asked */
	char asked[BATON_CLI_URL_LEN];
};

struct signed_command {
	uint8_t nonce[SIGNED_NONCE_LEN];
	char id[17];
	uint64_t issued_at_ms, expires_at_ms;
	uint8_t *envelope;
	size_t envelope_len;
};

static const struct signed_op *signed_find(const char *name)
{
	for (size_t i = 0; i < BATON_ARRAY_SIZE(signed_ops); i++)
		if (strcmp(signed_ops[i].name, name) == 0)
			return &signed_ops[i];
	return NULL;
}

static void usage(FILE *f, const struct signed_op *op)
{
	fprintf(f,
		"Usage: batonctl %s %s%s[--reason TEXT] [--group G] [--ttl SECONDS] [--epoch N]\n"
		"       [--key FILE] [--json] [--dry-run [--out FILE]] [--cluster URL[,URL...]]\n"
		"\n"
		"%s\n"
		"\n"
		"The command is signed with your Ed25519 operator key and is valid for --ttl seconds; the\n"
		"cluster checks the signature, that the key may do '%s', and that the group is still at\n"
		"the epoch you saw (read from /v1/status first).\n"
		"\n",
		op->name, op->synopsis, op->synopsis[0] ? " " : "", op->what, op->name);
	if (op->flags & (NEED_TO | ALLOW_TO))
		fprintf(f, "  -t, --to REGION      target region%s\n", op->flags & NEED_TO ? "" : " (default: the one active before)");
	if (op->flags & ALLOW_FORCE)
		fprintf(f, "  -f, --force          skip the target readiness check (needs a second operator)\n");
	if (op->flags & ALLOW_REGION)
		fprintf(f, "  -R, --region REGION  the region that rejoins (default: the one active before)\n");
	if (op->flags & NEED_VOTERS)
		fprintf(f, "  -V, --voters LIST    the members that stay (names or ids, comma-separated)\n");
	if (op->flags & NEED_STEP)
		fprintf(f, "  -s, --step STEP      the plan step\n"
			   "  -T, --transition ID  the transition (default: the group's current one)\n");
	fprintf(f,
		"  -r, --reason TEXT    why; recorded in the history%s\n"
		"  -g, --group G        failover group (default: the only one)\n"
		"  -L, --ttl SECONDS    the signed command is valid this long, 1..%d (default %d)\n"
		"  -e, --epoch N        expect epoch N instead of the one /v1/status shows\n"
		"      --cluster-id ID  sign for cluster ID instead of the one /v1/status shows\n"
		"                       (with --epoch too, nothing is asked before signing)\n"
		"  -k, --key FILE       operator key file (default: $BATON_KEY); must be mode 0600\n"
		"  -j, --json           print the cluster's JSON answer\n"
		"  -n, --dry-run        sign, print what would be sent, send nothing\n"
		"  -o, --out FILE       with --dry-run: write the signed envelope (protobuf) to FILE\n"
		"  -c, --cluster URLS   nodes to ask (see batonctl --help)\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 accepted, 4 pending a second operator's approval, 5 refused by the cluster,\n"
		"1 no node reachable or the outcome unknown, 2 usage error, 6 key problem.\n",
		op->flags & NEED_REASON ? " (required)" : "", SIGNED_MAX_TTL_S, SIGNED_DEFAULT_TTL_S);
}

__attribute__((format(printf, 2, 3))) static int signed_usage_error(const struct signed_op *op, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "batonctl %s: ", op->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'batonctl %s --help'.\n", op->name);
	return BATON_CLI_USAGE;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* "witness, eu-west" -> "eu-west,witness"; false on an empty item, a duplicate
 * or a character that is not a name character. */
static bool canonical_voters(const char *in, char *out, size_t n)
{
	char buf[256], *items[16], *save = NULL;
	size_t k = 0;

	if (strlen(in) >= sizeof buf)
		return false;
	baton_strlcpy(buf, in, sizeof buf);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		if (k == BATON_ARRAY_SIZE(items) || strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
							       "0123456789-_.") != strlen(t))
			return false;
		items[k++] = t;
	}
	if (k == 0)
		return false;
	qsort(items, k, sizeof items[0], cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		size_t used = strlen(out);
		if (i > 0 && strcmp(items[i], items[i - 1]) == 0)
			return false;
		if (snprintf(out + used, n - used, "%s%s", i > 0 ? "," : "", items[i]) >= (int)(n - used))
			return false;
	}
	return true;
}

/* Options; returns -1 to go on, else an exit code. */
static int signed_parse(int argc, char *argv[], const struct baton_cli_opts *g, struct signed_args *a)
{
	enum { OPT_CLUSTER_ID = 0x100 };
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},
		{"force", no_argument, NULL, 'f'},
		{"step", required_argument, NULL, 's'},
		{"transition", required_argument, NULL, 'T'},
		{"region", required_argument, NULL, 'R'},
		{"voters", required_argument, NULL, 'V'},
		{"reason", required_argument, NULL, 'r'},
		{"group", required_argument, NULL, 'g'},
		{"ttl", required_argument, NULL, 'L'},
		{"epoch", required_argument, NULL, 'e'},
		{"cluster-id", required_argument, NULL, OPT_CLUSTER_ID},
		{"key", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"dry-run", no_argument, NULL, 'n'},
		{"out", required_argument, NULL, 'o'},
		{"cluster", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const struct signed_op *op = a->op;
	int c;

	a->cluster = g->cluster;
	a->ttl_s = SIGNED_DEFAULT_TTL_S;
	for (;;) {
		c = getopt_long(argc, argv, ":t:fs:T:R:V:r:g:L:e:k:jno:c:h", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 't':
			if (!(op->flags & (NEED_TO | ALLOW_TO)))
				return signed_usage_error(op, "--to does not apply to %s", op->name);
			a->to = optarg;
			break;
		case 'f':
			if (!(op->flags & ALLOW_FORCE))
				return signed_usage_error(op, "--force does not apply to %s", op->name);
			a->force = true;
			break;
		case 's':
			if (!(op->flags & NEED_STEP))
				return signed_usage_error(op, "--step does not apply to %s", op->name);
			a->step = optarg;
			break;
		case 'T':
			if (!(op->flags & ALLOW_TRANSITION))
				return signed_usage_error(op, "--transition does not apply to %s", op->name);
			a->transition = optarg;
			break;
		case 'R':
			if (!(op->flags & ALLOW_REGION))
				return signed_usage_error(op, "--region does not apply to %s", op->name);
			a->region = optarg;
			break;
		case 'V':
			if (!(op->flags & NEED_VOTERS))
				return signed_usage_error(op, "--voters does not apply to %s", op->name);
			if (!canonical_voters(optarg, a->voters, sizeof a->voters))
				return signed_usage_error(op, "--voters wants member names or ids separated by commas, "
							      "each once, not '%s'", optarg);
			break;
		case 'r':
			a->reason = optarg;
			break;
		case 'g':
			a->group = optarg;
			break;
		case 'L':
			if (!baton_cli_parse_u64(optarg, &a->ttl_s) || a->ttl_s < 1 || a->ttl_s > SIGNED_MAX_TTL_S)
				return signed_usage_error(op, "--ttl wants whole seconds from 1 to 86400, not '%s'", optarg);
			break;
		case 'e':
			if (!baton_cli_parse_u64(optarg, &a->epoch))
				return signed_usage_error(op, "--epoch wants a whole number, not '%s'", optarg);
			a->has_epoch = true;
			break;
		case OPT_CLUSTER_ID:
			a->cluster_id = optarg;
			break;
		case 'k':
			a->key_path = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'c':
			a->cluster = optarg;
			break;
		case 'h':
			usage(stdout, op);
			return BATON_CLI_OK;
		default:
			return baton_cli_bad_option(op->name, argv, c);
		}
	}
	if (op->flags & NEED_ID) {
		if (optind >= argc)
			return signed_usage_error(op, "which command? Give its ID (the id that 'failover --force' or "
						      "'skip-step' printed)");
		a->id = argv[optind++];
		if (strlen(a->id) != 16 || strspn(a->id, "0123456789abcdef") != 16)
			return signed_usage_error(op, "'%s' is not a command id (16 lowercase hex characters)", a->id);
	}
	if (optind < argc)
		return signed_usage_error(op, "unexpected argument '%s'", argv[optind]);
	if ((op->flags & NEED_TO) && (a->to == NULL || a->to[0] == '\0'))
		return signed_usage_error(op, "%s needs a target region: --to REGION", op->name);
	if ((op->flags & NEED_STEP) && (a->step == NULL || a->step[0] == '\0'))
		return signed_usage_error(op, "%s needs a step: --step STEP", op->name);
	if ((op->flags & NEED_REASON) && (a->reason == NULL || a->reason[0] == '\0'))
		return signed_usage_error(op, "%s needs a reason: --reason TEXT (it is shown in status)", op->name);
	if ((op->flags & NEED_VOTERS) && a->voters[0] == '\0')
		return signed_usage_error(op, "%s needs the members that stay: --voters MEMBER,...", op->name);
	if ((op->flags & NEED_VOTERS) && a->out == NULL)
		return signed_usage_error(op, "%s is never sent to the cluster: write it with --out FILE and give it to "
					      "'batond --recover' on each surviving member", op->name);
	if (op->flags & NEED_VOTERS)
		a->dry_run = true;
	if (a->out != NULL && !a->dry_run)
		return signed_usage_error(op, "%s", "--out needs --dry-run (a command is either sent or saved)");
	if (a->cluster_id != NULL && (a->cluster_id[0] == '\0' || strlen(a->cluster_id) >= 64))
		return signed_usage_error(op, "--cluster-id wants 1..63 characters, not '%s'", a->cluster_id);
	if (a->group != NULL && (a->group[0] == '\0' || strlen(a->group) >= 64))
		return signed_usage_error(op, "--group wants 1..63 characters, not '%s'", a->group);
	return -1;
}

static int signed_load_key(const struct signed_args *a, struct baton_cli_opkey *key)
{
	const char *path = a->key_path;
	char err[512];

	if (path == NULL || path[0] == '\0')
		path = getenv("BATON_KEY");
	if (path == NULL || path[0] == '\0') {
		fprintf(stderr, "batonctl %s: no operator key: pass --key FILE or set BATON_KEY=FILE "
				"(create one with 'batonctl keygen --name NAME')\n",
			a->op->name);
		return BATON_CLI_KEY;
	}
	if (baton_cli_opkey_load(path, key, err, sizeof err) != 0) {
		fprintf(stderr, "batonctl %s: %s\n", a->op->name, err);
		return BATON_CLI_KEY;
	}
	return -1;
}

static void list_groups(const json_t *groups, char *out, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < json_array_size(groups); i++) {
		size_t used = strlen(out);
		snprintf(out + used, n - used, "%s%s", i > 0 ? ", " : "",
			 baton_cli_jstr(json_array_get(groups, i), "name", "?"));
	}
}

/* Fill @ctx from /v1/status: the leader's when a node names one (its epoch is
 * the committed truth), else the first node's. Returns -1 to go on, else an
 * exit code. */
static int signed_context(const struct signed_args *a, struct baton_cli_client *client, struct signed_context *ctx)
{
	struct baton_cli_reply first, leader = {0}, *r = &first;
	const json_t *groups, *gj = NULL, *l;
	char names[256];
	int rv = -1;

	if (a->cluster_id != NULL)
		baton_strlcpy(ctx->cluster_id, a->cluster_id, sizeof ctx->cluster_id);
	if (a->group != NULL)
		baton_strlcpy(ctx->group, a->group, sizeof ctx->group);
	ctx->epoch = a->epoch;
	if (a->cluster_id != NULL && (a->has_epoch || (a->op->flags & NEED_VOTERS)))
		return -1;
	if (baton_cli_get_first(client, 0, "/v1/status", &first) != 0) {
		fprintf(stderr, "batonctl %s: nothing signed: no endpoint answered /v1/status:\n%s", a->op->name,
			client->errors);
		return BATON_CLI_UNREACHABLE;
	}
	l = json_object_get(json_object_get(first.json, "raft"), "leader");
	if (json_is_object(l) &&
	    strcmp(baton_cli_jstr(l, "name", ""), baton_cli_jstr(json_object_get(first.json, "node"), "name", "")) != 0 &&
	    baton_cli_get_addr(client, baton_cli_jstr(l, "api", ""), first.url, "/v1/status", &leader) == 0)
		r = &leader;
	baton_strlcpy(ctx->asked, r->url, sizeof ctx->asked);
	if (a->cluster_id == NULL)
		baton_strlcpy(ctx->cluster_id, baton_cli_jstr(r->json, "cluster", ""), sizeof ctx->cluster_id);
	groups = json_object_get(r->json, "groups");
	list_groups(groups, names, sizeof names);
	for (size_t i = 0; i < json_array_size(groups); i++) {
		const json_t *gi = json_array_get(groups, i);
		if (a->group == NULL ? json_array_size(groups) == 1
				     : strcmp(baton_cli_jstr(gi, "name", ""), a->group) == 0)
			gj = gi;
	}
	if (a->op->flags & NEED_VOTERS) {
		/* Cluster-wide: only the cluster id matters (every group's epoch moves). */
		if (ctx->cluster_id[0] == '\0') {
			fprintf(stderr, "batonctl %s: %s did not say its cluster id\n", a->op->name, r->url);
			rv = BATON_CLI_UNREACHABLE;
		}
	} else if (gj == NULL && a->group != NULL) {
		fprintf(stderr, "batonctl %s: unknown group '%s' (groups: %s)\n", a->op->name, a->group,
			names[0] ? names : "none");
		rv = BATON_CLI_USAGE;
	} else if (gj == NULL) {
		fprintf(stderr, "batonctl %s: the cluster has %zu groups (%s): name one with --group\n", a->op->name,
			json_array_size(groups), names[0] ? names : "none");
		rv = BATON_CLI_USAGE;
	} else if (ctx->cluster_id[0] == '\0') {
		fprintf(stderr, "batonctl %s: %s did not say its cluster id\n", a->op->name, r->url);
		rv = BATON_CLI_UNREACHABLE;
	} else {
		baton_strlcpy(ctx->group, baton_cli_jstr(gj, "name", ""), sizeof ctx->group);
		baton_strlcpy(ctx->active, baton_cli_jstr(gj, "active_region", ""), sizeof ctx->active);
		baton_strlcpy(ctx->previous, baton_cli_jstr(gj, "previous_region", ""), sizeof ctx->previous);
		if (!a->has_epoch)
			ctx->epoch = (uint64_t)baton_cli_jint(gj, "epoch", 0);
	}
	baton_cli_reply_done(&first);
	baton_cli_reply_done(&leader);
	return rv;
}

/* Build, sign and wrap the command. Returns 0 or -ENOMEM. */
static int signed_build(const struct signed_args *a, const struct signed_context *ctx,
			const struct baton_cli_opkey *key, struct signed_command *cmd)
{
	Baton__CommandBody body = BATON__COMMAND_BODY__INIT;
	Baton__CommandBody__ArgsEntry ents[SIGNED_MAX_ARGS], *entp[SIGNED_MAX_ARGS];
	Baton__SignedEnvelope env = BATON__SIGNED_ENVELOPE__INIT;
	uint8_t sig[crypto_sign_BYTES], *packed;
	size_t n = 0, len;
	const struct {
		const char *key, *value;
	} args[SIGNED_MAX_ARGS] = {
		{"to", a->to},
		{"force", a->force ? "true" : NULL},
		{"reason", a->reason},
		{"step", a->step},
		{"transition", a->transition},
		{"id", a->id},
		{"region", a->region},
		{"voters", a->voters[0] ? a->voters : NULL},
	};

	for (size_t i = 0; i < SIGNED_MAX_ARGS; i++) {
		if (args[i].value == NULL)
			continue;
		baton__command_body__args_entry__init(&ents[n]);
		ents[n].key = (char *)args[i].key;
		ents[n].value = (char *)args[i].value;
		entp[n] = &ents[n];
		n++;
	}
	randombytes_buf(cmd->nonce, sizeof cmd->nonce);
	baton_hex(cmd->id, cmd->nonce, 8);
	cmd->issued_at_ms = baton_wall_ms();
	cmd->expires_at_ms = cmd->issued_at_ms + a->ttl_s * 1000;
	body.op = (char *)a->op->name;
	body.n_args = n;
	body.args = entp;
	body.issued_at_ms = cmd->issued_at_ms;
	body.expires_at_ms = cmd->expires_at_ms;
	body.nonce.data = cmd->nonce;
	body.nonce.len = sizeof cmd->nonce;
	body.cluster_id = (char *)ctx->cluster_id;
	body.has_expect_epoch = !(a->op->flags & NEED_VOTERS);
	body.expect_epoch = ctx->epoch;
	body.group = ctx->group[0] != '\0' ? (char *)ctx->group : NULL;
	body.approves = (char *)a->id;

	len = baton__command_body__get_packed_size(&body);
	packed = malloc(len);
	if (packed == NULL)
		return -ENOMEM;
	baton__command_body__pack(&body, packed);
	crypto_sign_detached(sig, NULL, packed, len, key->sk);
	env.body.data = packed;
	env.body.len = len;
	env.signature.data = sig;
	env.signature.len = sizeof sig;
	env.key_id = (char *)key->key_id;
	cmd->envelope_len = baton__signed_envelope__get_packed_size(&env);
	cmd->envelope = malloc(cmd->envelope_len);
	if (cmd->envelope == NULL) {
		free(packed);
		return -ENOMEM;
	}
	baton__signed_envelope__pack(&env, cmd->envelope);
	free(packed);
	return 0;
}

/* "failover of group default to us-east" */
static void signed_describe(const struct signed_args *a, const struct signed_context *ctx, char *out, size_t n)
{
	const char *g = ctx->group[0] ? ctx->group : "(default)";

	if (a->op->flags & (NEED_TO | ALLOW_TO))
		snprintf(out, n, "%s%s of group %s to %s", a->op->name, a->force ? " --force" : "", g,
			 a->to != NULL ? a->to : "the region active before");
	else if (a->op->flags & NEED_STEP)
		snprintf(out, n, "%s %s of group %s%s%s", a->op->name, a->step, g, a->transition ? ", transition " : "",
			 a->transition ? a->transition : "");
	else if (a->op->flags & NEED_ID)
		snprintf(out, n, "approval of command %s (group %s)", a->id, g);
	else if (a->op->flags & NEED_VOTERS)
		snprintf(out, n, "forced reconfiguration keeping only %s", a->voters);
	else if (a->op->flags & ALLOW_REGION)
		snprintf(out, n, "%s of group %s: %s rejoins as a replica", a->op->name, g,
			 a->region != NULL ? a->region : "the region active before");
	else
		snprintf(out, n, "%s of group %s", a->op->name, g);
}

/* --dry-run: write the envelope to --out, describe the command. */
static int signed_dry_run(const struct signed_args *a, const struct signed_context *ctx,
			  const struct baton_cli_opkey *key, const struct signed_command *cmd)
{
	char what[256], from[40], until[40];
	int fd, rv = BATON_CLI_OK;

	if (a->out != NULL) {
		/* A signed envelope is a live command until it expires: private, never clobbering. */
		fd = open(a->out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, cmd->envelope, cmd->envelope_len) != (ssize_t)cmd->envelope_len) {
			fprintf(stderr, "batonctl %s: cannot write the envelope to '%s': %s\n", a->op->name, a->out,
				strerror(errno));
			if (fd >= 0) {
				(void)close(fd);
				(void)unlink(a->out);
			}
			return BATON_CLI_UNREACHABLE;
		}
		if (close(fd) != 0) {
			fprintf(stderr, "batonctl %s: cannot write '%s': %s\n", a->op->name, a->out, strerror(errno));
			(void)unlink(a->out);
			return BATON_CLI_UNREACHABLE;
		}
	}
	if (a->json) {
		json_t *j = json_pack("{s:b,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:I,s:s?}", "dry_run", 1, "id", cmd->id, "op",
				      a->op->name, "cluster_id", ctx->cluster_id, "group", ctx->group, "expect_epoch",
				      (json_int_t)ctx->epoch, "issued_at_ms", (json_int_t)cmd->issued_at_ms,
				      "expires_at_ms", (json_int_t)cmd->expires_at_ms, "key_id", key->key_id, "key_name",
				      key->name, "envelope_bytes", (json_int_t)cmd->envelope_len, "out", a->out);
		if (j == NULL) {
			fprintf(stderr, "batonctl %s: out of memory\n", a->op->name);
			return BATON_CLI_UNREACHABLE;
		}
		rv = baton_cli_print_json(j);
		json_decref(j);
		return rv;
	}
	signed_describe(a, ctx, what, sizeof what);
	baton_cli_format_utc(from, sizeof from, cmd->issued_at_ms);
	baton_cli_format_utc(until, sizeof until, cmd->expires_at_ms);
	printf("signed, not sent (--dry-run): %s\n", what);
	printf("  command id:  %s\n", cmd->id);
	if (a->op->flags & NEED_VOTERS)
		printf("  cluster:     %s (every group)\n", ctx->cluster_id);
	else
		printf("  cluster:     %s, expects epoch %" PRIu64 "\n", ctx->cluster_id, ctx->epoch);
	printf("  key:         %s (key id %s)\n", key->name, key->key_id);
	printf("  valid:       %s to %s\n", from, until);
	if (a->out != NULL && (a->op->flags & NEED_VOTERS))
		printf("  envelope:    %zu bytes written to %s\n"
		       "next: a second operator signs the same --voters; then, on each surviving member, stopped:\n"
		       "  batond --config FILE --recover %s OTHER_FILE\n",
		       cmd->envelope_len, a->out, a->out);
	else if (a->out != NULL)
		printf("  envelope:    %zu bytes written to %s (POST it to /v1/commands as application/x-protobuf)\n",
		       cmd->envelope_len, a->out);
	else
		printf("  envelope:    %zu bytes (--out FILE keeps them)\n", cmd->envelope_len);
	if (fflush(stdout) != 0) {
		perror("batonctl: writing to stdout");
		rv = BATON_CLI_UNREACHABLE;
	}
	return rv;
}

/* Say what the cluster answered; returns the exit code. */
static int signed_report(const struct signed_args *a, const struct signed_context *ctx,
			 const struct signed_command *cmd, const struct baton_cli_http_reply *r)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *code = baton_cli_jstr(j, "error", baton_cli_jstr(j, "outcome", ""));
	const char *msg = baton_cli_jstr(j, "message", "");
	char what[256], until[40];
	int rv;

	if (r->status == 200)
		rv = BATON_CLI_OK;
	else if (r->status == 202)
		rv = BATON_CLI_PENDING;
	else if (r->status >= 400 && r->status < 500 && json_is_object(j))
		rv = BATON_CLI_REFUSED;
	else
		rv = BATON_CLI_UNREACHABLE;
	if (a->json && json_is_object(j)) {
		json_object_set_new(j, "answered_by", json_string(r->url));
		if (baton_cli_print_json(j) != BATON_CLI_OK)
			rv = BATON_CLI_UNREACHABLE;
		json_decref(j);
		return rv;
	}
	signed_describe(a, ctx, what, sizeof what);
	baton_cli_format_utc(until, sizeof until, cmd->expires_at_ms);
	switch (rv) {
	case BATON_CLI_OK:
		if (strcmp(code, "duplicate") == 0)
			printf("accepted (already applied before): %s; command %s; group at epoch %lld\n", what,
			       cmd->id, baton_cli_jint(j, "epoch", 0));
		else if (strcmp(msg, "done") != 0 && msg[0] != '\0')
			printf("accepted: %s: %s; command %s; group at epoch %lld\n", what, msg, cmd->id,
			       baton_cli_jint(j, "epoch", 0));
		else
			printf("accepted: %s; command %s; group now at epoch %lld\n", what, cmd->id,
			       baton_cli_jint(j, "epoch", 0));
		break;
	case BATON_CLI_PENDING:
		printf("pending approval: %s\n", msg[0] ? msg : "needs a second operator");
		printf("  another operator approves it with: batonctl approve %s (before %s)\n", cmd->id, until);
		break;
	case BATON_CLI_REFUSED:
		fprintf(stderr, "batonctl %s: refused by the cluster (%s): %s\n", a->op->name, code[0] ? code : "?",
			msg[0] ? msg : "no reason given");
		break;
	default:
		if (r->status == 504 || strcmp(code, "unknown-outcome") == 0)
			fprintf(stderr,
				"batonctl %s: the outcome is unknown (%s): %s\n"
				"Check 'batonctl history' before signing again (sending the same envelope again is safe).\n",
				a->op->name, code[0] ? code : "HTTP 504", msg);
		else if (json_is_object(j))
			fprintf(stderr, "batonctl %s: not executed: HTTP %ld from %s: %s%s%s\n", a->op->name, r->status,
				r->url, code, msg[0] ? ": " : "", msg);
		else
			fprintf(stderr, "batonctl %s: unexpected answer from %s: HTTP %ld: %.*s\n", a->op->name, r->url,
				r->status, (int)strcspn(r->body, "\r\n"), r->body);
	}
	json_decref(j);
	if (fflush(stdout) != 0) {
		perror("batonctl: writing to stdout");
		rv = BATON_CLI_UNREACHABLE;
	}
	return rv;
}

int baton_cli_signed_main(int argc, char *argv[], const struct baton_cli_opts *g)
{
	struct signed_args a = {.op = signed_find(argv[0])};
	struct signed_context ctx = {0};
	struct signed_command cmd = {0};
	struct baton_cli_opkey key;
	struct baton_cli_client client;
	struct baton_cli_http_reply r;
	char err[512];
	int rv;

	if (a.op == NULL)
		return BATON_CLI_USAGE;
	rv = signed_parse(argc, argv, g, &a);
	if (rv >= 0)
		return rv;
	if (sodium_init() < 0) {
		fprintf(stderr, "batonctl %s: libsodium failed to initialise\n", a.op->name);
		return BATON_CLI_KEY;
	}
	rv = signed_load_key(&a, &key);
	if (rv >= 0)
		return rv;
	if (baton_cli_client_init(&client, a.cluster, err, sizeof err) != 0) {
		fprintf(stderr, "batonctl %s: %s\n", a.op->name, err);
		rv = BATON_CLI_USAGE;
		goto out;
	}
	rv = signed_context(&a, &client, &ctx);
	if (rv >= 0)
		goto out;
	/* failback without --to / reverse without --region: sign the region, as status
	 * showed it, so the command says exactly where the baton goes (the
	 * expected epoch pins that view). Without status the cluster picks. */
	if (strcmp(a.op->name, "failback") == 0 && a.to == NULL && ctx.previous[0] != '\0')
		a.to = ctx.previous;
	if (strcmp(a.op->name, "reverse") == 0 && a.region == NULL && ctx.previous[0] != '\0')
		a.region = ctx.previous;
	if (signed_build(&a, &ctx, &key, &cmd) != 0) {
		fprintf(stderr, "batonctl %s: out of memory\n", a.op->name);
		rv = BATON_CLI_UNREACHABLE;
		goto out;
	}
	if (a.dry_run) {
		rv = signed_dry_run(&a, &ctx, &key, &cmd);
		goto out;
	}
	client.errors[0] = '\0';
	switch (baton_cli_post_first(&client, 0, "/v1/commands", "application/x-protobuf", cmd.envelope,
				     cmd.envelope_len, SIGNED_POST_TIMEOUT_MS, &r)) {
	case 0:
		rv = signed_report(&a, &ctx, &cmd, &r);
		baton_cli_http_reply_done(&r);
		break;
	case -EHOSTUNREACH:
		fprintf(stderr, "batonctl %s: not sent: no node took the command:\n%s", a.op->name, client.errors);
		rv = BATON_CLI_UNREACHABLE;
		break;
	default:
		fprintf(stderr,
			"batonctl %s: the outcome is unknown: the command (id %s) was sent but no answer came:\n%s"
			"Check 'batonctl history' before signing again.\n",
			a.op->name, cmd.id, client.errors);
		rv = BATON_CLI_UNREACHABLE;
	}
out:
	free(cmd.envelope);
	sodium_memzero(&key, sizeof key);
	return rv;
}
