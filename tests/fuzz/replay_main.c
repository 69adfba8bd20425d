/* SPDX-License-Identifier: MIT */
/* Runs a libFuzzer target over its seed corpus without libFuzzer, so every
 * build (gcc, ASan) replays the corpus as a regular test. With -Dfuzz=true and
 * clang the same target is also linked against libFuzzer for real fuzzing. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			if (d == NULL)
				return 1;
			while ((e = readdir(d)) != NULL) {
				char p[4096];
				if (e->d_name[0] == '.')
					continue;
				snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
				if (run_file(p) != 0)
					return 1;
				count++;
			}
			closedir(d);
		} else {
			if (run_file(argv[i]) != 0)
				return 1;
			count++;
		}
	}
	/* A few synthetic inputs too: empty, one byte, all 0xff. */
	{
		uint8_t ff[512];
		memset(ff, 0xff, sizeof ff);
		LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
		LLVMFuzzerTestOneInput((const uint8_t *)"\0", 1);
		LLVMFuzzerTestOneInput(ff, sizeof ff);
	}
	printf("replayed %d corpus files\n", count);
	return count > 0 ? 0 : 1;
}
