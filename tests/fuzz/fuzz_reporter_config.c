/* SPDX-License-Identifier: MIT */
/* Fuzz baton-reporter's config loader (lib/yamltree.c + lib/conftab.c + reporter/config.c)
 * through baton_reporter_config_load_string().
 *
 * Besides "no crash, no leak, no UB" it checks invariants: every error is one
 * line that starts with the file name; an accepted config has 1..8
 * coordinators without a trailing '/', 1..32 checks with distinct names, a
 * timeout below the interval, exec checks with an absolute program, and a
 * `primary` only on postgres checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reporter/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct baton_reporter_config *c)
{
	if (c->region[0] == '\0' || c->name[0] == '\0' || c->key_file[0] != '/')
		abort();
	if (c->n_coordinators < 1 || c->n_coordinators > BATON_RCFG_MAX_COORDINATORS)
		abort();
	for (unsigned i = 0; i < c->n_coordinators; i++) {
		size_t n = strlen(c->coordinators[i]);

		if (n == 0 || c->coordinators[i][n - 1] == '/' ||
		    strncmp(c->coordinators[i], "http", 4) != 0)
			abort();
	}
	if (c->timeout_ms == 0 || c->timeout_ms >= c->interval_ms || c->interval_ms < 100)
		abort();
	if (c->n_checks < 1 || c->n_checks > BATON_RCFG_MAX_CHECKS)
		abort();
	for (unsigned i = 0; i < c->n_checks; i++) {
		const struct baton_check_config *k = &c->checks[i];

		if (k->name[0] == '\0' || k->type >= BATON_CHECK_TYPE_NR)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->checks[j].name, k->name) == 0)
				abort();
		if (k->has_primary && k->type != BATON_CHECK_POSTGRES)
			abort();
		if (k->type == BATON_CHECK_EXEC &&
		    (k->argc < 1 || k->argc > BATON_RCFG_MAX_ARGS || baton_check_arg(k, 0)[0] != '/'))
			abort();
		if (k->type == BATON_CHECK_HTTP && strncmp(k->url, "http", 4) != 0)
			abort();
		if (k->type == BATON_CHECK_POSTGRES && (k->pg.host[0] == '\0' || k->pg.port == 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct baton_reporter_config *c = malloc(sizeof *c);
	char err[512];

	if (c == NULL)
		abort();
	err[0] = '\0';
	if (baton_reporter_config_load_string("fuzz.yaml", (const char *)data, size, c, err,
					      sizeof err) != 0) {
		if (strncmp(err, "fuzz.yaml", 9) != 0 || strchr(err, '\n') != NULL) {
			fprintf(stderr, "bad error text: %s\n", err);
			abort();
		}
	} else {
		check_config(c);
	}
	free(c);
	return 0;
}
