/* SPDX-License-Identifier: MIT */
/* baton-reporter's configuration file: which region and reporter this is,
 * the key, the coordinators to push to, the interval, and the checks.
 *
 * Every key is one line of the table in config.c (path, type, default,
 * bounds, which check types it belongs to, one-line doc), walked by
 * lib/conftab.c; the table drives parsing, defaults and the key reference in
 * docs/reporter.md (baton_reporter_config_write_reference(),
 * `baton-reporter --config-reference`).
 * A key under checks[] belongs to one or more check types: `url` to http
 * checks, `address` to tcp checks, and so on; using it on another type is an
 * error that says which type it belongs to. Rules that tie keys together
 * (timeout below interval, unique check names and coordinators, URL shapes)
 * are checked after the table.
 *
 * Loading stops at the first problem and describes it as
 * "<file>:<line>: <key.path>: <problem>", e.g.
 *   /etc/baton/reporter.yaml:9: timeout_ms: must be below interval_ms (1000), got 1000
 *   /etc/baton/reporter.yaml:14: checks[1].url: is a key of http checks; this check is type tcp
 *
 * Values may use ${VAR} and ${VAR:-default} (lib/conftab.h), e.g.
 * `name: ${POD_NAME}` in a file shared by several pods. The loader reads only
 * the YAML file; the key file and password files are read by the reporter at
 * start-up (reporter.h). */
#ifndef BATON_REPORTER_CONFIG_H
#define BATON_REPORTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/log.h"

#define BATON_RCFG_NAME_LEN 64    /* 1..63 chars of [a-z0-9-] + NUL */
#define BATON_RCFG_TEXT_LEN 64    /* pg user / dbname */
#define BATON_RCFG_URL_LEN 256
#define BATON_RCFG_PATH_LEN 256
#define BATON_RCFG_ADDR_LEN 22    /* "255.255.255.255:65535" + NUL */
#define BATON_RCFG_HOST_LEN 16    /* "255.255.255.255" + NUL */
#define BATON_RCFG_MAX_COORDINATORS 8
#define BATON_RCFG_MAX_CHECKS 32
#define BATON_RCFG_MAX_ARGS 16    /* exec: command + arguments */
#define BATON_RCFG_CMD_LEN 1024   /* exec: all of them, NUL-separated */

enum baton_check_type {
	BATON_CHECK_HTTP,
	BATON_CHECK_TCP,
	BATON_CHECK_POSTGRES,
	BATON_CHECK_EXEC,
	BATON_CHECK_TYPE_NR
};

/* "http", "tcp", "postgres", "exec" (also CheckResult.kind on the wire). */
const char *baton_check_type_name(enum baton_check_type t);

/* One PostgreSQL server to connect to. */
struct baton_pg_target_config {
	char host[BATON_RCFG_HOST_LEN];  /* IPv4 literal: lib/pg.h never resolves names */
	unsigned port;
	char user[BATON_RCFG_TEXT_LEN];
	char dbname[BATON_RCFG_TEXT_LEN];
	char password_file[BATON_RCFG_PATH_LEN]; /* "" = no password */
};

struct baton_check_config {
	char name[BATON_RCFG_NAME_LEN];  /* unique within the file */
	enum baton_check_type type;
	bool critical;                   /* a failure makes the whole report critical */
	/* http */
	char url[BATON_RCFG_URL_LEN];
	unsigned expect_status;          /* 0 = any 2xx */
	/* tcp */
	char address[BATON_RCFG_ADDR_LEN];
	/* postgres */
	struct baton_pg_target_config pg;
	bool has_primary;
	struct baton_pg_target_config primary;
	/* exec: @argc strings, each NUL-terminated, back to back; argv[0] is absolute */
	char command[BATON_RCFG_CMD_LEN];
	unsigned argc;
};

struct baton_reporter_config {
	char region[BATON_RCFG_NAME_LEN];
	char name[BATON_RCFG_NAME_LEN];
	char key_file[BATON_RCFG_PATH_LEN];
	char coordinators[BATON_RCFG_MAX_COORDINATORS][BATON_RCFG_URL_LEN]; /* no trailing '/' */
	unsigned n_coordinators;
	uint64_t interval_ms;
	uint64_t timeout_ms;             /* < interval_ms; default interval_ms * 4 / 5 */
	enum baton_log_level log_level;
	struct baton_check_config checks[BATON_RCFG_MAX_CHECKS];
	unsigned n_checks;
};

/* Read, parse and validate @path into *@ret (written only on success).
 * Returns 0; -EINVAL for any problem with the content; -errno when the file
 * cannot be read; -EFBIG over 1 MiB. @errbuf gets one line. */
int baton_reporter_config_load(const char *path, struct baton_reporter_config *ret, char *errbuf,
			       size_t errlen);

/* The same for @len bytes of @yaml; @name stands for the file name in messages. */
int baton_reporter_config_load_string(const char *name, const char *yaml, size_t len,
				      struct baton_reporter_config *ret, char *errbuf,
				      size_t errlen);

/* The @i-th argument of an exec check (i < argc). */
const char *baton_check_arg(const struct baton_check_config *c, unsigned i);

/* The key reference of docs/reporter.md (a Markdown table), from the table. */
void baton_reporter_config_write_reference(FILE *f);

#endif
