/* SPDX-License-Identifier: MIT */
/* batonctl: the operator CLI. Global options, then one subcommand from the table. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "baton_config.h"
#include "cli.h"
#include "client.h"
#include "util.h"

static const struct baton_cli_cmd {
	const char *name;
	int (*fn)(int argc, char *argv[], const struct baton_cli_opts *g);
	const char *help;
} cmds[] = {
	{"status", baton_cli_status_main, "Show leader, term, groups, members and the losses it survives"},
	{"history", baton_cli_history_main, "List replicated events: activations, transitions, freezes"},
	{"plan", baton_cli_plan_main, "Dry run: the steps of a transition and what blocks it now"},
	{"keygen", baton_cli_keygen_main, "Create an operator key pair and print its cluster.operators entry"},
	/* signed: need an operator key (--key FILE or $BATON_KEY) */
	{"switchover", baton_cli_signed_main, "Planned move of the baton: --to REGION (signed)"},
	{"failover", baton_cli_signed_main, "Unplanned move: --to REGION [--force] (signed)"},
	{"failback", baton_cli_signed_main, "Move back to the region active before [--to REGION] (signed)"},
	{"freeze", baton_cli_signed_main, "Stop automatic failover: --reason TEXT (signed)"},
	{"unfreeze", baton_cli_signed_main, "Allow automatic failover again (signed)"},
	{"drill", baton_cli_signed_main, "Run the plan in drill mode: --to REGION (signed)"},
	{"retry-step", baton_cli_signed_main, "Run a failed step again: --step STEP (signed)"},
	{"skip-step", baton_cli_signed_main, "Skip a failed/pending step: --step STEP (signed, 2 operators)"},
	{"approve", baton_cli_signed_main, "Approve another operator's command: ID (signed)"},
	{"reverse", baton_cli_signed_main, "Old primary's region rejoins as a replica [--region R] (signed)"},
	{"recover", baton_cli_signed_main, "After losing a majority: --voters M,... --out F (signed, 2 operators)"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: batonctl [--cluster URL[,URL...]] <command> [<args>]\n"
		   "\n"
		   "Operator CLI for baton, the multi-region failover coordinator.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < BATON_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-11s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n"
		   "Options:\n"
		   "  -c, --cluster URL[,URL...]  nodes to ask, in order, until one answers: http(s)://host:port\n"
		   "                              or host:port. Default: $BATON_ENDPOINTS, else %s.\n"
		   "                              Each try: %d ms to connect, %d ms in all; proxies are not used.\n"
		   "  -h, --help                  this text; 'batonctl <command> --help' for a command's options\n"
		   "  -V, --version               print the version\n"
		   "\n"
		   "Exit status:\n"
		   "  0  success\n"
		   "  1  no endpoint answered, the request failed, or a command's outcome is unknown\n"
		   "  2  usage error (bad option or value, bad endpoint list, unknown group)\n"
		   "  3  the cluster answered but has no leader (status)\n"
		   "  4  a signed command waits for a second operator's approval\n"
		   "  5  the cluster refused a signed command (its error code and message are printed)\n"
		   "  6  key problem: no key given, unreadable, group/world-accessible, or (keygen) exists\n"
		   "\n"
		   "Signed commands take the operator key from --key FILE or BATON_KEY=FILE.\n",
		BATON_CLI_DEFAULT_ENDPOINTS, BATON_CLI_CONNECT_TIMEOUT_MS, BATON_CLI_TIMEOUT_MS);
}

int baton_cli_bad_option(const char *cmd, char *argv[], int c)
{
	const char *arg = argv[optind - 1];
	const char *sp = cmd[0] != '\0' ? " " : "";

	if (c == ':')
		fprintf(stderr, "batonctl%s%s: option '%s' needs a value\n", sp, cmd, arg);
	else if (optopt != 0)
		fprintf(stderr, "batonctl%s%s: unknown option '-%c'\n", sp, cmd, optopt);
	else
		fprintf(stderr, "batonctl%s%s: unknown option '%s'\n", sp, cmd, arg);
	fprintf(stderr, "Try 'batonctl%s%s --help'.\n", sp, cmd);
	return BATON_CLI_USAGE;
}

int baton_cli_no_operands(const char *cmd, int argc, char *argv[])
{
	if (optind >= argc)
		return BATON_CLI_OK;
	fprintf(stderr, "batonctl %s: unexpected argument '%s'\nTry 'batonctl %s --help'.\n", cmd, argv[optind], cmd);
	return BATON_CLI_USAGE;
}

int baton_cli_start(const char *cmd, int argc, char *argv[], const char *cluster, struct baton_cli_client *client)
{
	char err[256];

	if (baton_cli_no_operands(cmd, argc, argv) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	if (baton_cli_client_init(client, cluster, err, sizeof err) != 0) {
		fprintf(stderr, "batonctl %s: %s\n", cmd, err);
		return BATON_CLI_USAGE;
	}
	return BATON_CLI_OK;
}

static int dispatch(int argc, char *argv[], const struct baton_cli_opts *g)
{
	for (size_t i = 0; i < BATON_ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[0], cmds[i].name) == 0) {
			optind = 0; /* glibc: restart getopt for the subcommand's argv */
			return cmds[i].fn(argc, argv, g);
		}
	fprintf(stderr, "batonctl: unknown command '%s' (commands:", argv[0]);
	for (size_t i = 0; i < BATON_ARRAY_SIZE(cmds); i++)
		fprintf(stderr, " %s", cmds[i].name);
	fprintf(stderr, ")\nTry 'batonctl --help'.\n");
	return BATON_CLI_USAGE;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{"cluster", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct baton_cli_opts g = {0};
	int c, rv;

	opterr = 0;
	/* '+': stop at the command name; what follows belongs to the command */
	for (;;) {
		c = getopt_long(argc, argv, "+:c:hV", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'c':
			g.cluster = optarg;
			break;
		case 'h':
			usage(stdout);
			return BATON_CLI_OK;
		case 'V':
			printf("batonctl %s\n", BATON_VERSION);
			return BATON_CLI_OK;
		default:
			return baton_cli_bad_option("", argv, c);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return BATON_CLI_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return BATON_CLI_OK;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "batonctl: curl_global_init() failed\n");
		return BATON_CLI_UNREACHABLE;
	}
	rv = dispatch(argc - optind, argv + optind, &g);
	curl_global_cleanup();
	return rv;
}
