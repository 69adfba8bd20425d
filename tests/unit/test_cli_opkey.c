/* SPDX-License-Identifier: MIT */
/* cli/opkey.c: batonctl's operator key file - written once with mode 0600,
 * read back only when private, and refused when damaged or edited.
 *
 * Each test gets a fresh directory; keys are generated, written, rewritten
 * by hand (write_text) and loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/opkey.h"

struct fixture {
	char dir[64];
	char path[128];
	struct baton_cli_opkey key, loaded;
	char err[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/baton-test-opkey-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/alice.key", f->dir);
	assert_int_equal(baton_cli_opkey_generate("alice", &f->key), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* The file's text with line @field's value replaced by @value. */
static void rewrite_field(struct fixture *f, const char *field, const char *value)
{
	char text[2048], out[2048] = "", *line, *save = NULL;
	FILE *fp = fopen(f->path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(text, 1, sizeof text - 1, fp);
	text[n] = '\0';
	fclose(fp);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		size_t used = strlen(out);
		if (strncmp(line, field, strlen(field)) == 0 && line[strlen(field)] == ':')
			snprintf(out + used, sizeof out - used, "%s: %s\n", field, value);
		else
			snprintf(out + used, sizeof out - used, "%s\n", line);
	}
	write_text(f->path, out, 0600);
}

/* A written key loads back identical, from a file of mode 0600. */
static void a_written_key_loads_back_the_same(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(baton_cli_opkey_write(f->path, &f->key, f->err, sizeof f->err), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), 0);
	assert_string_equal(f->loaded.name, "alice");
	assert_string_equal(f->loaded.key_id, f->key.key_id);
	assert_memory_equal(f->loaded.pk, f->key.pk, 32);
	assert_memory_equal(f->loaded.sk, f->key.sk, 64);
}

/* keygen never overwrites: the second write fails with -EEXIST and the
 * first key is still there. */
static void writing_over_an_existing_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct baton_cli_opkey other;

	assert_int_equal(baton_cli_opkey_write(f->path, &f->key, f->err, sizeof f->err), 0);
	assert_int_equal(baton_cli_opkey_generate("alice", &other), 0);
	assert_int_equal(baton_cli_opkey_write(f->path, &other, f->err, sizeof f->err), -EEXIST);
	assert_non_null(strstr(f->err, "never overwrites"));
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), 0);
	assert_string_equal(f->loaded.key_id, f->key.key_id);
}

/* Group- or world-accessible key files are refused with the fix spelled out. */
static void a_key_readable_by_others_is_refused_with_the_fix(void **state)
{
	struct fixture *f = *state;
	static const mode_t modes[] = {0640, 0604, 0644, 0660, 0601};
	char fix[200];

	assert_int_equal(baton_cli_opkey_write(f->path, &f->key, f->err, sizeof f->err), 0);
	snprintf(fix, sizeof fix, "chmod 600 %s", f->path);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		assert_int_equal(chmod(f->path, modes[i]), 0);
		assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EPERM);
		assert_non_null(strstr(f->err, fix));
	}
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), 0);
}

/* A missing file says it cannot be read, and names it. */
static void a_missing_key_file_is_named(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, f->path));
}

/* A directory is not a key file. */
static void a_directory_is_not_a_key_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(chmod(f->dir, 0700), 0);
	assert_int_equal(baton_cli_opkey_load(f->dir, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "not a regular file"));
}

/* A secret key that does not belong to the public key (an edited file) is refused. */
static void a_secret_key_of_another_pair_is_refused(void **state)
{
	struct fixture *f = *state;
	struct baton_cli_opkey other;
	char hex[129];

	assert_int_equal(baton_cli_opkey_write(f->path, &f->key, f->err, sizeof f->err), 0);
	assert_int_equal(baton_cli_opkey_generate("other", &other), 0);
	sodium_bin2hex(hex, sizeof hex, other.sk, sizeof other.sk);
	rewrite_field(f, "secret_key", hex);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "does not belong"));
}

/* A key id that is not the id of the public key is refused. */
static void a_wrong_key_id_is_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(baton_cli_opkey_write(f->path, &f->key, f->err, sizeof f->err), 0);
	rewrite_field(f, "key_id", "0123456789abcdef");
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "is not the id"));
}

/* Missing, unknown and repeated fields are refused, with the line where known. */
static void malformed_files_are_refused_with_the_line(void **state)
{
	struct fixture *f = *state;

	write_text(f->path, "format: baton-operator-key-1\nname: alice\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "'key_id' is missing"));

	write_text(f->path, "# c\n\nformat: baton-operator-key-1\ncolour: blue\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "line 4: unknown field 'colour'"));

	write_text(f->path, "name: a\nname: b\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "line 2: field 'name' appears twice"));

	write_text(f->path, "format: something-else\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "line 1: format"));

	write_text(f->path, "public_key: 12\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "64 hex"));

	write_text(f->path, "just words\n", 0600);
	assert_int_equal(baton_cli_opkey_load(f->path, &f->loaded, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "field: value"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(a_written_key_loads_back_the_same),
		T(writing_over_an_existing_file_is_refused),
		T(a_key_readable_by_others_is_refused_with_the_fix),
		T(a_missing_key_file_is_named),
		T(a_directory_is_not_a_key_file),
		T(a_secret_key_of_another_pair_is_refused),
		T(a_wrong_key_id_is_refused),
		T(malformed_files_are_refused_with_the_line),
	};
#undef T
	return cmocka_run_group_tests_name("cli_opkey", tests, NULL, NULL);
}
