/* SPDX-License-Identifier: MIT */
/* batonctl history: the replicated event log, oldest first, one line per event.
 *
 * Any node can answer: history is part of the replicated state (a follower
 * that is behind may lack the newest events; status says if it is). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"

#define HISTORY_MAX_LIMIT 10000 /* what the node serves at most per request */

static void usage(FILE *f)
{
	fprintf(f, "Usage: batonctl history [--since SEQ] [--limit N] [--json] [--cluster URL[,URL...]]\n"
		   "\n"
		   "One line per event: sequence number, time (UTC), group, kind, outcome, epoch, text, and who\n"
		   "asked for it. Events are oldest first.\n"
		   "\n"
		   "  -s, --since SEQ      start at event SEQ (default 0: from the beginning)\n"
		   "  -n, --limit N        at most N events, 1..%d (default 500)\n"
		   "  -j, --json           the node's /v1/history JSON, plus \"answered_by\"\n"
		   "  -c, --cluster URLS   nodes to ask (see batonctl --help)\n"
		   "  -h, --help           this text\n"
		   "\n"
		   "Exit status: 0 ok, 1 no endpoint answered, 2 usage error.\n",
		HISTORY_MAX_LIMIT);
}

static const char *or_dash(const char *s)
{
	return s[0] != '\0' ? s : "-";
}

static void print_event(const json_t *ev)
{
	char at[40], epoch[24] = "-";
	long long e = baton_cli_jint(ev, "epoch", 0);

	baton_cli_format_utc(at, sizeof at, (uint64_t)baton_cli_jint(ev, "at_ms", 0));
	if (e > 0)
		snprintf(epoch, sizeof epoch, "%lld", e);
	printf("%6lld  %s  %-10s %-10s %-11s epoch %-4s %s  (by %s)\n", baton_cli_jint(ev, "seq", 0), at,
	       or_dash(baton_cli_jstr(ev, "group", "")), or_dash(baton_cli_jstr(ev, "kind", "")),
	       or_dash(baton_cli_jstr(ev, "outcome", "")), epoch, baton_cli_jstr(ev, "text", ""),
	       or_dash(baton_cli_jstr(ev, "by", "")));
}

/* @flag's value as a whole number within [min, max]; prints why not and returns false. */
static bool parse_number(const char *flag, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
	if (baton_cli_parse_u64(arg, ret) && *ret >= min && *ret <= max)
		return true;
	fprintf(stderr, "batonctl history: %s wants a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'\n",
		flag, min, max, arg);
	return false;
}

int baton_cli_history_main(int argc, char *argv[], const struct baton_cli_opts *g)
{
	static const struct option opts[] = {
		{"since", required_argument, NULL, 's'}, {"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},        {"cluster", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},        {0},
	};
	struct baton_cli_client client;
	struct baton_cli_reply r;
	const char *cluster = g->cluster;
	uint64_t since = 0, limit = 500;
	bool json = false;
	char path[96];
	const json_t *events;
	int c, rv = BATON_CLI_OK;

	for (;;) {
		c = getopt_long(argc, argv, ":s:n:jc:h", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 's':
			if (!parse_number("--since", optarg, 0, UINT64_MAX, &since))
				return BATON_CLI_USAGE;
			break;
		case 'n':
			if (!parse_number("--limit", optarg, 1, HISTORY_MAX_LIMIT, &limit))
				return BATON_CLI_USAGE;
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
			return baton_cli_bad_option("history", argv, c);
		}
	}
	if (baton_cli_start("history", argc, argv, cluster, &client) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	snprintf(path, sizeof path, "/v1/history?since=%" PRIu64 "&limit=%" PRIu64, since, limit);
	if (baton_cli_get_first(&client, 0, path, &r) != 0) {
		fprintf(stderr, "batonctl history: no endpoint answered:\n%s", client.errors);
		return BATON_CLI_UNREACHABLE;
	}
	if (json) {
		json_object_set_new(r.json, "answered_by", json_string(r.url));
		rv = baton_cli_print_json(r.json);
	} else {
		events = json_object_get(r.json, "events");
		for (size_t i = 0; i < json_array_size(events); i++)
			print_event(json_array_get(events, i));
		if (json_array_size(events) == limit)
			fprintf(stderr, "batonctl history: there may be more: --since %lld\n",
				baton_cli_jint(json_array_get(events, limit - 1), "seq", 0) + 1);
		if (fflush(stdout) != 0) {
			perror("batonctl history: writing to stdout");
			rv = BATON_CLI_UNREACHABLE;
		}
	}
	baton_cli_reply_done(&r);
	return rv;
}
