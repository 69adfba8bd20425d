/* SPDX-License-Identifier: MIT */
/* batonctl keygen: a new Ed25519 operator key pair.
 *
 * The key file (format in opkey.h) is created with O_EXCL and mode 0600 and
 * is never overwritten. What to paste under cluster.operators in every node's
 * config, and the key id the cluster will name the key by, go to stdout. The
 * operations list is checked with the server's own parser (raft/opcmd.c), so
 * a list keygen accepts is a list batond accepts. Nothing is sent anywhere. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "opcmd.h"
#include "opkey.h"
#include "yamltree.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: batonctl keygen --name NAME [--out FILE] [--operations LIST]\n"
		   "\n"
		   "Create an Ed25519 operator key pair. The secret key goes to FILE (default NAME.key),\n"
		   "created with mode 0600; an existing file is never overwritten. Prints the entry to add\n"
		   "under cluster.operators in every node's config, and the key id.\n"
		   "\n"
		   "  -N, --name NAME         operator name, 1..63 characters of [a-z0-9-] (shown in history)\n"
		   "  -o, --out FILE          where to write the secret key (default NAME.key)\n"
		   "  -O, --operations LIST   what the key may do: all (default), or a comma-separated list of\n"
		   "                          switchover, failover, failback, freeze, unfreeze, drill,\n"
		   "                          retry-step, skip-step, approve, reverse\n"
		   "  -h, --help              this text\n"
		   "\n"
		   "Use the key with 'batonctl <command> --key FILE' or BATON_KEY=FILE.\n"
		   "\n"
		   "Exit status: 0 written, 2 usage error, 6 the key file could not be created (exists, no access).\n");
}

/* @ops checked and rewritten without spaces ("freeze, unfreeze" -> "freeze,unfreeze"). */
static bool keygen_operations(const char *ops, char *out, size_t n, char *err, size_t errlen)
{
	struct baton_opkeys scratch = {0};
	static const char dummy_pk[] = "0000000000000000000000000000000000000000000000000000000000000000";
	char buf[256], *save = NULL;
	size_t used = 0;

	if (strlen(ops) >= sizeof buf || baton_opkeys_add(&scratch, "keygen", dummy_pk, ops, err, errlen) != 0) {
		if (strlen(ops) >= sizeof buf)
			snprintf(err, errlen, "--operations is longer than %zu characters", sizeof buf - 1);
		return false;
	}
	if (scratch.keys[0].ops == 0) {
		snprintf(err, errlen, "--operations names no operation");
		return false;
	}
	snprintf(buf, sizeof buf, "%s", ops);
	out[0] = '\0';
	for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		if (strcmp(t, "all") == 0) {
			snprintf(out, n, "all");
			return true;
		}
		used += (size_t)snprintf(out + used, n - used, "%s%s", used > 0 ? "," : "", t);
	}
	return true;
}

int baton_cli_keygen_main(int argc, char *argv[], const struct baton_cli_opts *g)
{
	static const struct option opts[] = {
		{"name", required_argument, NULL, 'N'},
		{"out", required_argument, NULL, 'o'},
		{"operations", required_argument, NULL, 'O'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *name = NULL, *out = NULL, *ops = "all";
	char path[4096], oplist[256], err[512];
	struct baton_cli_opkey key;
	int c, rv;

	(void)g;
	for (;;) {
		c = getopt_long(argc, argv, ":N:o:O:h", opts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'N':
			name = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'O':
			ops = optarg;
			break;
		case 'h':
			usage(stdout);
			return BATON_CLI_OK;
		default:
			return baton_cli_bad_option("keygen", argv, c);
		}
	}
	if (baton_cli_no_operands("keygen", argc, argv) != BATON_CLI_OK)
		return BATON_CLI_USAGE;
	if (name == NULL) {
		fprintf(stderr, "batonctl keygen: --name NAME is required (the operator the key belongs to)\n"
				"Try 'batonctl keygen --help'.\n");
		return BATON_CLI_USAGE;
	}
	/* The same rule as cluster.operators[].name in the config. */
	if (name[0] == '\0' || strlen(name) >= BATON_CLI_OPKEY_NAME_LEN ||
	    strspn(name, BATON_YAML_CHARSET_NAME) != strlen(name)) {
		fprintf(stderr, "batonctl keygen: --name '%s': use 1..63 characters of [a-z0-9-]\n", name);
		return BATON_CLI_USAGE;
	}
	if (!keygen_operations(ops, oplist, sizeof oplist, err, sizeof err)) {
		fprintf(stderr, "batonctl keygen: --operations: %s\n", err);
		return BATON_CLI_USAGE;
	}
	if (out == NULL) {
		snprintf(path, sizeof path, "%s.key", name);
		out = path;
	}
	if (baton_cli_opkey_generate(name, &key) != 0) {
		fprintf(stderr, "batonctl keygen: libsodium could not generate a key\n");
		return BATON_CLI_KEY;
	}
	rv = baton_cli_opkey_write(out, &key, err, sizeof err);
	if (rv != 0) {
		fprintf(stderr, "batonctl keygen: %s\n", err);
		sodium_memzero(&key, sizeof key);
		return BATON_CLI_KEY;
	}
	{
		char pk_hex[65];

		sodium_bin2hex(pk_hex, sizeof pk_hex, key.pk, sizeof key.pk);
		printf("wrote the secret key of operator '%s' to %s (mode 0600; keep it private)\n", name, out);
		printf("key id: %s\n", key.key_id);
		printf("\n"
		       "Add this entry under cluster.operators, the same in every node's config (raise\n"
		       "cluster.generation with the change), and restart the nodes:\n"
		       "\n"
		       "  operators:\n"
		       "    - {name: %s, public_key: %s, operations: %s%s%s}\n",
		       name, pk_hex, strchr(oplist, ',') ? "\"" : "", oplist, strchr(oplist, ',') ? "\"" : "");
	}
	sodium_memzero(&key, sizeof key);
	if (fflush(stdout) != 0) {
		perror("batonctl keygen: writing to stdout");
		return BATON_CLI_UNREACHABLE;
	}
	return BATON_CLI_OK;
}
