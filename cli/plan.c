/* SPDX-License-Identifier: MIT */
/* batonctl plan: the dry run of a transition (GET /v1/plan). Unsigned, changes nothing.
 *
 * Asks the leader when a node names one (its view of the regions is the one a
 * command would be checked against), else the first node that answers. Prints
 * the plan's steps in the order they would start, with driver and
 * dependencies, and every rule that would block the transition now. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"
#include "client.h"
#include "util.h"

static const char *const plan_kinds[] = {"failover", "switchover", "failback", "drill"};

static void usage(FILE *f)
{
	fprintf(f, "Usage: batonctl plan --to REGION [--kind failover|switchover|failback|drill] [--group G]\n"
		   "                     [--json] [--cluster URL[,URL...]]\n"
		   "\n"
		   "What a transition to REGION would do, without doing it: the plan's steps in the order\n"
		   "they start, each with its driver and what it waits for, and every rule that would block\n"
		   "the transition now (frozen, a transition running, the target not ready and why).\n"
		   "\n"
		   "  -t, --to REGION      target region (failback: default the region active before)\n"
		   "  -K, --kind KIND      failover (default), switchover, failback or drill\n"
		   "  -g, --group G        failover group (default: the only one)\n"
		   "  -j, --json           the node's /v1/plan JSON, plus \"answered_by\"\n"
		   "  -c, --cluster URLS   nodes to ask (see batonctl --help)\n"
		   "  -h, --help           this text\n"
		   "\n"
		   "Exit status: 0 plan shown (blocked or not), 1 no endpoint answered, 2 usage error.\n");
}

static const char *plan_str_at(const json_t *arr, size_t i)
{
	const char *s = json_string_value(json_array_get(arr, i));

	return s != NULL ? s : "?";
}

static void plan_print(const json_t *p, const char *kind, const char *asked_by)
{
	const json_t *steps = json_object_get(p, "steps"), *blocked = json_object_get(p, "blocked_by");
	size_t i, j;

	const char *from = baton_cli_jstr(p, "from", "");

	printf("plan: %s of group %s from %s to %s (epoch %lld), as %s sees it\n", kind,
	       baton_cli_jstr(p, "group", "?"), from[0] ? from : "(no active region)", baton_cli_jstr(p, "to", "?"),
	       baton_cli_jint(p, "epoch", 0), asked_by);
	if (json_array_size(steps) == 0)
		printf("steps: none configured for this transition (the baton moves at the decision)\n");
	else
		printf("steps, in the order they start:\n");
	for (i = 0; i < json_array_size(steps); i++) {
		const json_t *s = json_array_get(steps, i), *after = json_object_get(s, "after");
		printf("  %2zu. %-20s driver %-12s after: ", i + 1, baton_cli_jstr(s, "name", "?"),
		       baton_cli_jstr(s, "driver", "?"));
		if (json_array_size(after) == 0)
			printf("-");
		for (j = 0; j < json_array_size(after); j++)
			printf("%s%s", j > 0 ? ", " : "", plan_str_at(after, j));
		printf("%s\n", json_is_false(json_object_get(s, "idempotent")) ? "  (not idempotent)" : "");
	}
	if (json_array_size(blocked) == 0) {
		printf("blocked by: nothing; it could start now\n");
		return;
	}
	printf("blocked by:\n");
	for (i = 0; i < json_array_size(blocked); i++) {
		const json_t *b = json_array_get(blocked, i);
		printf("  %s: %s\n", baton_cli_jstr(b, "rule", "?"), baton_cli_jstr(b, "text", ""));
	}
}

int baton_cli_plan_main(int argc, char *argv[], const struct baton_cli_opts *g)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},    {"kind", required_argument, NULL, 'K'},
		{"group", required_argument, NULL, 'g'}, {"json", no_argument, NULL, 'j'},
		{"cluster", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *to = NULL, *kind = "failover", *group = NULL, *cluster = g->cluster;
	struct baton_cli_client client;
	struct baton_cli_reply st = {0}, plan = {0};
	const json_t *l, *groups;
	char path[512], asked_by[BATON_CLI_URL_LEN + 64];
	bool json = false, known_kind = false, found = false;
	char *eto = NULL, *egroup = NULL;
	int c, rv = BATON_CLI_OK;

	for (;;) {
		c = getopt_long(argc, argv, ":t:K:g:jc:h", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 't':
			to = optarg;
			break;
		case 'K':
			kind = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'c':
			cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return BATON_CLI_OK;
		default:
			return baton_cli_bad_option("plan", argv, c);
		}
	}
	for (size_t i = 0; i < BATON_ARRAY_SIZE(plan_kinds); i++)
		known_kind |= strcmp(kind, plan_kinds[i]) == 0;
	if (baton_cli_no_operands("plan", argc, argv) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	if (!known_kind || ((to == NULL || to[0] == '\0') && strcmp(kind, "failback") != 0)) {
		if (!known_kind)
			fprintf(stderr, "batonctl plan: --kind '%s': use failover, switchover, failback or drill\n", kind);
		else
			fprintf(stderr, "batonctl plan: which region? --to REGION\n");
		fprintf(stderr, "Try 'batonctl plan --help'.\n");
		return BATON_CLI_USAGE;
	}
	if (baton_cli_start("plan", argc, argv, cluster, &client) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	if (baton_cli_get_first(&client, 0, "/v1/status", &st) != 0) {
		fprintf(stderr, "batonctl plan: no endpoint answered:\n%s", client.errors);
		return BATON_CLI_UNREACHABLE;
	}
	groups = json_object_get(st.json, "groups");
	found = group == NULL;
	for (size_t i = 0; group != NULL && i < json_array_size(groups); i++)
		found |= strcmp(baton_cli_jstr(json_array_get(groups, i), "name", ""), group) == 0;
	if (!found) {
		fprintf(stderr, "batonctl plan: unknown group '%s'\n", group);
		rv = BATON_CLI_USAGE;
		goto out;
	}
	eto = curl_easy_escape(NULL, to != NULL ? to : "", 0);
	egroup = curl_easy_escape(NULL, group != NULL ? group : "", 0);
	if (eto == NULL || egroup == NULL) {
		fprintf(stderr, "batonctl plan: out of memory\n");
		rv = BATON_CLI_UNREACHABLE;
		goto out;
	}
	snprintf(path, sizeof path, "/v1/plan?kind=%s%s%s%s%s", kind, eto[0] ? "&to=" : "", eto,
		 egroup[0] ? "&group=" : "", egroup);
	/* The leader's view first; else the node that answered. */
	l = json_object_get(json_object_get(st.json, "raft"), "leader");
	client.errors[0] = '\0';
	if (json_is_object(l) &&
	    baton_cli_get_addr(&client, baton_cli_jstr(l, "api", ""), st.url, path, &plan) == 0) {
		snprintf(asked_by, sizeof asked_by, "%s (the leader)", baton_cli_jstr(l, "name", "?"));
	} else if (baton_cli_get_first(&client, st.index < client.n ? st.index : 0, path, &plan) == 0) {
		snprintf(asked_by, sizeof asked_by, "%s at %s (not the leader: a committed view)",
			 baton_cli_jstr(json_object_get(st.json, "node"), "name", "?"), plan.name);
	} else {
		fprintf(stderr, "batonctl plan: no endpoint answered /v1/plan:\n%s", client.errors);
		rv = BATON_CLI_UNREACHABLE;
		goto out;
	}
	if (json) {
		json_object_set_new(plan.json, "answered_by", json_string(plan.url));
		rv = baton_cli_print_json(plan.json);
	} else {
		plan_print(plan.json, kind, asked_by);
		if (fflush(stdout) != 0) {
			perror("batonctl plan: writing to stdout");
			rv = BATON_CLI_UNREACHABLE;
		}
	}
out:
	curl_free(eto);
	curl_free(egroup);
	baton_cli_reply_done(&st);
	baton_cli_reply_done(&plan);
	return rv;
}
