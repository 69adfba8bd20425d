/* SPDX-License-Identifier: MIT */
/* batonctl internals: exit codes, global options, the subcommands, formatting helpers. */
#ifndef BATON_CLI_H
#define BATON_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Documented in `batonctl --help` and docs/batonctl.md; scripts depend on them. */
enum baton_cli_exit {
	BATON_CLI_OK = 0,
	BATON_CLI_UNREACHABLE = 1, /* no endpoint answered, or the request failed */
	BATON_CLI_USAGE = 2,
	BATON_CLI_NO_LEADER = 3,   /* the cluster answered but has no leader (status) */
	BATON_CLI_PENDING = 4,     /* a signed command waits for a second operator's approval */
	BATON_CLI_REFUSED = 5,     /* the cluster refused a signed command (code and message printed) */
	BATON_CLI_KEY = 6,         /* key problem: missing, unreadable, bad permissions, exists (keygen) */
};

/* Options given before the command. */
struct baton_cli_opts {
	const char *cluster; /* --cluster, or NULL ($BATON_ENDPOINTS, then the default) */
};

/* A subcommand: argv[0] is its name; returns an exit code. */
int baton_cli_status_main(int argc, char *argv[], const struct baton_cli_opts *g);
int baton_cli_history_main(int argc, char *argv[], const struct baton_cli_opts *g);
int baton_cli_keygen_main(int argc, char *argv[], const struct baton_cli_opts *g);
int baton_cli_plan_main(int argc, char *argv[], const struct baton_cli_opts *g);
/* Every signed command (switchover, failover, ..., approve): argv[0] says which. */
int baton_cli_signed_main(int argc, char *argv[], const struct baton_cli_opts *g);

/* getopt_long() returned @c ('?' or ':') in subcommand @cmd ("" = before the command): say what was
 * wrong and where help is, on stderr. Returns BATON_CLI_USAGE. */
int baton_cli_bad_option(const char *cmd, char *argv[], int c);
/* After option parsing: refuse a leftover argument (argv[optind]), saying so. Returns
 * BATON_CLI_OK or BATON_CLI_USAGE. */
int baton_cli_no_operands(const char *cmd, int argc, char *argv[]);
struct baton_cli_client;
/* baton_cli_no_operands(), then the endpoint list from @cluster into @client. Returns
 * BATON_CLI_OK, or BATON_CLI_USAGE with the reason on stderr. */
int baton_cli_start(const char *cmd, int argc, char *argv[], const char *cluster, struct baton_cli_client *client);

/* "2026-03-14 09:26:53Z" (UTC, from ms since the epoch). */
void baton_cli_format_utc(char *out, size_t n, uint64_t at_ms);
/* "850 ms", "12.3 s", "4m05s", "2h10m", "3d04h". */
void baton_cli_format_duration(char *out, size_t n, uint64_t ms);
/* A whole decimal number, nothing else. */
bool baton_cli_parse_u64(const char *s, uint64_t *ret);
/* Print @j indented to stdout. Returns 0, or BATON_CLI_UNREACHABLE if it could not be written. */
int baton_cli_print_json(json_t *j);

/* Null-safe readers of a reply: @def when the key is missing or has another type. */
const char *baton_cli_jstr(const json_t *obj, const char *key, const char *def);
long long baton_cli_jint(const json_t *obj, const char *key, long long def);

#endif
