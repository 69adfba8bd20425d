/* SPDX-License-Identifier: MIT */
/* baton-reporter: probes its region's services and pushes signed health
 * reports to the region's coordinators (reporter.h, docs/reporter.md).
 *
 *   baton-reporter --config FILE            run until SIGTERM/SIGINT
 *   baton-reporter --config FILE --once     one round, print it, exit
 *   baton-reporter --check-config FILE      validate config, key and password files
 *   baton-reporter keygen PATH              write a new region key (mode 0600)
 *   baton-reporter --config-reference       the config key table (Markdown)
 *
 * Exit status: 0 ok; 1 a check failed (--once) or a runtime error; 2 bad
 * usage, config, key or password file; 3 no coordinator accepted the report
 * (--once; takes precedence over 1). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "baton_config.h"
#include "config.h"
#include "lib/log.h"
#include "lib/report.h"
#include "reporter.h"

enum {
	EXIT_OK = 0,
	EXIT_CHECK_FAILED = 1,
	EXIT_ERROR = 1,
	EXIT_CONFIG = 2,
	EXIT_UNDELIVERED = 3,
};

struct app {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct baton_reporter rep;
	struct baton_reporter_config cfg;
	bool once, round_done;
	int exit_code;
	const char *stop_signal;
};

static void usage(FILE *f)
{
	fputs("usage: baton-reporter --config FILE [--once]\n"
	      "       baton-reporter --check-config FILE\n"
	      "       baton-reporter keygen PATH\n"
	      "       baton-reporter --config-reference | --version | --help\n"
	      "\n"
	      "Runs this region's health checks every interval and POSTs a signed report\n"
	      "to the region's coordinators. --once runs one round and prints it; exit 0\n"
	      "if every check is ok, 1 if one failed, 2 on a config error, 3 if no\n"
	      "coordinator accepted the report. See docs/reporter.md.\n",
	      f);
}

static void app_signal_closed_cb(uv_handle_t *h)
{
	(void)h;
}

static void app_reporter_closed_cb(struct baton_reporter *r)
{
	struct app *a = r->data;

	uv_close((uv_handle_t *)&a->sigterm, app_signal_closed_cb);
	uv_close((uv_handle_t *)&a->sigint, app_signal_closed_cb);
}

static void app_signal_cb(uv_signal_t *h, int signum)
{
	struct app *a = h->data;

	if (a->stop_signal != NULL)
		return;
	a->stop_signal = signum == SIGTERM ? "TERM" : "INT";
	if (!a->once)
		log_notice("reporter", "stopping", "signal=%s", a->stop_signal);
	else if (!a->round_done)
		a->exit_code = EXIT_ERROR; /* interrupted before the round ended */
	baton_reporter_close(&a->rep, app_reporter_closed_cb);
}

static void app_once_cb(struct baton_reporter *r, const struct baton_reporter_round *round)
{
	struct app *a = r->data;

	a->round_done = true;
	baton_reporter_print_round(stdout, r, round);
	fflush(stdout);
	if (round->delivered_to < 0)
		a->exit_code = EXIT_UNDELIVERED;
	else
		a->exit_code = round->all_ok ? EXIT_OK : EXIT_CHECK_FAILED;
	baton_reporter_close(r, app_reporter_closed_cb);
}

static int app_load_config(const char *path, struct baton_reporter_config *cfg)
{
	char err[512];

	if (baton_reporter_config_load(path, cfg, err, sizeof err) != 0) {
		fprintf(stderr, "baton-reporter: %s\n", err);
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

static int cmd_check_config(const char *path)
{
	struct baton_reporter_config *cfg = calloc(1, sizeof *cfg);
	uint8_t key[BATON_REPORT_KEY_LEN];
	char err[512], kid[BATON_REPORT_KEY_ID_LEN];
	int rc;

	if (cfg == NULL)
		return EXIT_ERROR;
	rc = app_load_config(path, cfg);
	if (rc == EXIT_OK && baton_reporter_check_files(cfg, err, sizeof err) != 0) {
		fprintf(stderr, "baton-reporter: %s\n", err);
		rc = EXIT_CONFIG;
	}
	if (rc == EXIT_OK && baton_report_key_load(cfg->key_file, key, err, sizeof err) == 0) {
		baton_report_key_id(key, kid);
		memset(key, 0, sizeof key);
		printf("%s: ok: region %s, reporter %s, %u check%s, %u coordinator%s, interval %llu ms, "
		       "timeout %llu ms, key_id %s\n",
		       path, cfg->region, cfg->name, cfg->n_checks, cfg->n_checks == 1 ? "" : "s",
		       cfg->n_coordinators, cfg->n_coordinators == 1 ? "" : "s",
		       (unsigned long long)cfg->interval_ms, (unsigned long long)cfg->timeout_ms, kid);
	}
	free(cfg);
	return rc;
}

static int cmd_keygen(const char *path)
{
	uint8_t key[BATON_REPORT_KEY_LEN];
	char err[512], kid[BATON_REPORT_KEY_ID_LEN];

	if (baton_report_key_generate(path, err, sizeof err) != 0 ||
	    baton_report_key_load(path, key, err, sizeof err) != 0) {
		fprintf(stderr, "baton-reporter: %s\n", err);
		return EXIT_ERROR;
	}
	baton_report_key_id(key, kid);
	memset(key, 0, sizeof key);
	printf("wrote a new region key to %s (key_id %s); copy it, mode 0600, to every reporter and "
	       "coordinator of the region\n",
	       path, kid);
	return EXIT_OK;
}

static int cmd_run(const char *path, bool once)
{
	struct app *a = calloc(1, sizeof *a);
	char err[512];
	int rc, rv;

	if (a == NULL)
		return EXIT_ERROR;
	a->once = once;
	rc = app_load_config(path, &a->cfg);
	if (rc != EXIT_OK) {
		free(a);
		return rc;
	}
	baton_log_init(a->cfg.log_level, "baton-reporter");
	signal(SIGPIPE, SIG_IGN);
	rv = uv_loop_init(&a->loop);
	if (rv != 0) {
		fprintf(stderr, "baton-reporter: uv_loop_init: %s\n", uv_strerror(rv)); /* UNTESTED */
		free(a);
		return EXIT_ERROR;
	}
	rv = baton_reporter_init(&a->rep, &a->loop, &a->cfg, err, sizeof err);
	if (rv != 0) {
		fprintf(stderr, "baton-reporter: %s\n", err);
		rc = rv == -ENOMEM || rv == -ENOTSUP ? EXIT_ERROR : EXIT_CONFIG;
		(void)uv_run(&a->loop, UV_RUN_DEFAULT); /* init's own close callbacks */
		(void)uv_loop_close(&a->loop);
		free(a);
		return rc;
	}
	a->rep.data = a;
	(void)uv_signal_init(&a->loop, &a->sigterm);
	(void)uv_signal_init(&a->loop, &a->sigint);
	a->sigterm.data = a->sigint.data = a;
	(void)uv_signal_start(&a->sigterm, app_signal_cb, SIGTERM);
	(void)uv_signal_start(&a->sigint, app_signal_cb, SIGINT);
	if (once) {
		a->exit_code = EXIT_ERROR;
		rv = baton_reporter_run_once(&a->rep, app_once_cb);
	} else {
		log_info("reporter", "started",
			 "version=%s region=%s name=%s checks=%u coordinators=%u interval_ms=%llu "
			 "timeout_ms=%llu key_id=%s",
			 BATON_VERSION, a->cfg.region, a->cfg.name, a->cfg.n_checks,
			 a->cfg.n_coordinators, (unsigned long long)a->cfg.interval_ms,
			 (unsigned long long)a->cfg.timeout_ms, a->rep.key_id);
		a->exit_code = EXIT_OK;
		rv = baton_reporter_start(&a->rep, NULL);
	}
	if (rv != 0) { /* UNTESTED: uv_timer_start cannot fail here */
		fprintf(stderr, "baton-reporter: cannot start: %s\n", uv_strerror(rv));
		a->exit_code = EXIT_ERROR;
		baton_reporter_close(&a->rep, app_reporter_closed_cb);
	}
	(void)uv_run(&a->loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&a->loop);
	if (rv != 0) {
		log_error("reporter", "handles left open at exit", "err=%s", uv_strerror(rv));
		a->exit_code = EXIT_ERROR;
	}
	if (!once)
		log_notice("reporter", "stopped", "exit=%d", a->exit_code);
	rc = a->exit_code;
	free(a);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'k' },
		{ "once", no_argument, NULL, '1' },
		{ "config-reference", no_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *check = NULL;
	bool once = false;
	int c;

	if (argc >= 2 && strcmp(argv[1], "keygen") == 0) {
		if (argc != 3) {
			fputs("usage: baton-reporter keygen PATH\n", stderr);
			return EXIT_CONFIG;
		}
		return cmd_keygen(argv[2]);
	}
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = optarg;
			break;
		case '1':
			once = true;
			break;
		case 'r':
			baton_reporter_config_write_reference(stdout);
			return EXIT_OK;
		case 'V':
			printf("baton-reporter %s\n", BATON_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "baton-reporter: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (check != NULL && config == NULL && !once)
		return cmd_check_config(check);
	if (config == NULL || check != NULL) {
		usage(stderr);
		return EXIT_CONFIG;
	}
	return cmd_run(config, once);
}
