/* SPDX-License-Identifier: MIT */
/* Run one attempt of an action driver and print its result as one JSON line, for the
 * Python integration tests (tests/integration/test_actions_*.py), which start the
 * real servers or request-checking stand-ins around it.
 *
 *   action_run [--epoch N] [--from R] [--to R] [--group G] [--step S]
 *              [--transition T] [--attempt N] [--timeout-ms N] [--drill] [--validate]
 *              DRIVER key=value...
 *
 * Output: {"status": 0, "status_name": "ok", "retryable": false, "error": "",
 *          "output": "...", "ms": 12, "callbacks": 1, "sync": false}
 * --validate prints {"valid": true|false, "error": "..."} instead.
 * Exit status 0 when a result was printed, 2 on usage errors, 3 if the loop did not
 * close cleanly (a leaked handle). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <uv.h>

#include "action.h"

struct run {
	int callbacks;
	bool in_start, sync;
	struct baton_action_result res;
	uint64_t t0, ms;
};

static void done_cb(void *data, const struct baton_action_result *r)
{
	struct run *run = data;

	run->callbacks++;
	run->sync = run->sync || run->in_start;
	run->res = *r;
	run->ms = uv_hrtime() / 1000000 - run->t0;
}

static void client_closed_cb(struct baton_http_client *c)
{
	(void)c;
}

static const char *status_name(int status)
{
	switch (status) {
	case 0: return "ok";
	case BATON_ACTION_ESTALE: return "estale";
	case BATON_ACTION_EFAILED: return "efailed";
	default: {
		const char *name = status < 0 ? strerrorname_np(-status) : NULL;

		return name != NULL ? name : "unknown";
	}
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: action_run [--epoch N] [--from R] [--to R] [--group G] [--step S] "
			"[--transition T] [--attempt N] [--timeout-ms N] [--drill] [--validate] "
			"DRIVER key=value...\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"epoch", required_argument, NULL, 'e'},   {"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},      {"group", required_argument, NULL, 'g'},
		{"step", required_argument, NULL, 's'},    {"transition", required_argument, NULL, 'x'},
		{"attempt", required_argument, NULL, 'a'}, {"timeout-ms", required_argument, NULL, 'T'},
		{"drill", no_argument, NULL, 'd'},         {"validate", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	struct baton_action_ctx ctx = {.epoch = 1, .group = "main", .from = "", .to = "",
				       .step = "step", .transition = "t-1", .attempt = 1,
				       .timeout_ms = 10000};
	struct baton_action_params p = {0};
	const struct baton_action_driver *d;
	struct baton_action_op *op = NULL;
	struct baton_http_client http;
	struct baton_action_env env;
	struct run run = {0};
	bool validate = false;
	uv_loop_t loop;
	json_t *out;
	char *text;
	int c, rv;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': ctx.epoch = strtoull(optarg, NULL, 10); break;
		case 'f': ctx.from = optarg; break;
		case 't': ctx.to = optarg; break;
		case 'g': ctx.group = optarg; break;
		case 's': ctx.step = optarg; break;
		case 'x': ctx.transition = optarg; break;
		case 'a': ctx.attempt = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'T': ctx.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': ctx.drill = true; break;
		case 'v': validate = true; break;
		default: return usage();
		}
	}
	if (optind >= argc)
		return usage();
	d = baton_action_driver(argv[optind]);
	if (d == NULL) {
		fprintf(stderr, "action_run: no driver '%s' (drivers: %s)\n", argv[optind],
			baton_action_driver_names());
		return 2;
	}
	for (int i = optind + 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || p.n >= BATON_ACTION_MAX_PARAMS ||
		    (size_t)(eq - argv[i]) >= BATON_ACTION_KEY_LEN ||
		    strlen(eq + 1) >= BATON_ACTION_VALUE_LEN)
			return usage();
		memcpy(p.items[p.n].key, argv[i], (size_t)(eq - argv[i]));
		snprintf(p.items[p.n].value, BATON_ACTION_VALUE_LEN, "%s", eq + 1);
		p.n++;
	}
	if (validate) {
		char err[256] = "";

		rv = d->validate(&p, err, sizeof(err));
		out = json_pack("{s:b, s:s}", "valid", rv == 0, "error", err);
		goto print;
	}

	if (uv_loop_init(&loop) != 0 || baton_http_client_init(&http, &loop) != 0) {
		fprintf(stderr, "action_run: loop or HTTP client init failed\n");
		return 2;
	}
	env.loop = &loop;
	env.http = &http;
	uv_update_time(&loop);
	run.t0 = uv_hrtime() / 1000000;
	run.in_start = true;
	rv = d->start(&env, &p, &ctx, done_cb, &run, &op);
	run.in_start = false;
	if (rv != 0) {
		fprintf(stderr, "action_run: start: %s\n", strerror(-rv));
		return 2;
	}
	while (run.callbacks == 0)
		(void)uv_run(&loop, UV_RUN_ONCE);
	baton_http_client_close(&http, client_closed_cb);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	rv = uv_loop_close(&loop);
	out = json_pack("{s:i, s:s, s:b, s:s, s:s, s:I, s:i, s:b}", "status", run.res.status,
			"status_name", status_name(run.res.status), "retryable", run.res.retryable,
			"error", run.res.error, "output", run.res.output, "ms", (json_int_t)run.ms,
			"callbacks", run.callbacks, "sync", run.sync);
	if (rv != 0) {
		fprintf(stderr, "action_run: uv_loop_close: %s (a handle was left open)\n",
			uv_strerror(rv));
		json_decref(out);
		return 3;
	}
print:
	text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
	if (text == NULL)
		return 2;
	printf("%s\n", text);
	free(text);
	json_decref(out);
	return 0;
}
