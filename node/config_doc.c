/* SPDX-License-Identifier: MIT */
/* baton-config-doc FILE.md: rewrite the generated key reference in FILE.md
 * (the lines between the BEGIN/END markers) from the key table in config.c.
 * Run through `ninja -C <build> config-doc`; test_config fails when
 * docs/configuration.md and the table disagree. Not installed. */
#include "node/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN_MARK "<!-- BEGIN KEY REFERENCE"
#define END_MARK "<!-- END KEY REFERENCE -->"

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, k;

	if (f == NULL)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = len + 65536);
			if (p == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		k = fread(buf + len, 1, cap - len - 1, f);
		len += k;
	} while (k > 0);
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

int main(int argc, char **argv)
{
	const char *begin, *begin_eol, *end;
	char *doc, *tmp;
	size_t len;
	FILE *out;

	if (argc != 2) {
		fprintf(stderr, "usage: %s docs/configuration.md\n", argv[0]);
		return 2;
	}
	doc = slurp(argv[1], &len);
	if (doc == NULL) {
		perror(argv[1]);
		return 1;
	}
	begin = strstr(doc, BEGIN_MARK);
	begin_eol = begin != NULL ? strchr(begin, '\n') : NULL;
	end = begin_eol != NULL ? strstr(begin_eol, END_MARK) : NULL;
	if (end == NULL) {
		fprintf(stderr, "%s: no '%s ...' / '%s' markers\n", argv[1], BEGIN_MARK, END_MARK);
		free(doc);
		return 1;
	}
	if (asprintf(&tmp, "%s.tmp", argv[1]) < 0) {
		free(doc);
		return 1;
	}
	out = fopen(tmp, "wb");
	if (out == NULL) {
		perror(tmp);
		free(tmp);
		free(doc);
		return 1;
	}
	fwrite(doc, 1, (size_t)(begin_eol + 1 - doc), out);
	baton_config_write_reference(out);
	fputs(end, out);
	if (fclose(out) != 0 || rename(tmp, argv[1]) != 0) {
		perror(tmp);
		free(tmp);
		free(doc);
		return 1;
	}
	printf("%s: key reference updated\n", argv[1]);
	free(tmp);
	free(doc);
	return 0;
}
