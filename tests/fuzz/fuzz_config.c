/* SPDX-License-Identifier: MIT */
/* Fuzz the config loader (lib/yamltree.c + lib/conftab.c + node/config.c) through
 * baton_config_load_string().
 *
 * Besides "no crash, no leak, no UB", it checks invariants: every error is one
 * line that starts with the file name; every accepted config has a self entry,
 * and its dump loads back to the same cluster hash and the same dump. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct baton_config *c, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);

	if (f == NULL)
		abort();
	baton_config_dump(c, f);
	fclose(f);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct baton_config c, back;
	char err[512], err2[512], h1[65], h2[65];
	char *text, *text2;
	size_t len, len2;

	err[0] = '\0';
	if (baton_config_load_string("fuzz.yaml", (const char *)data, size, &c, err, sizeof err) != 0) {
		if (strncmp(err, "fuzz.yaml", 9) != 0 || strchr(err, '\n') != NULL)
			abort();
		return 0;
	}
	if (c.self == NULL || c.self->id != c.node.id || c.cluster.n_groups == 0)
		abort();
	baton_config_cluster_hash(&c.cluster, h1);
	text = dump(&c, &len);
	if (baton_config_load_string("dump.yaml", text, len, &back, err2, sizeof err2) != 0) {
		fprintf(stderr, "dump does not load back: %s\n%s", err2, text);
		abort();
	}
	baton_config_cluster_hash(&back.cluster, h2);
	text2 = dump(&back, &len2);
	if (strcmp(h1, h2) != 0 || len != len2 || memcmp(text, text2, len) != 0)
		abort();
	free(text);
	free(text2);
	return 0;
}
