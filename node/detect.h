/* SPDX-License-Identifier: MIT */
/* External probes and this observer's subjective verdict per region
 * (DESIGN.md "Failure detection", step 1 and 2).
 *
 * Every probe_interval_ms a round runs every region's probes concurrently
 * (HTTP via libcurl multi, TCP via uv_tcp_connect), each bounded by
 * probe_timeout_ms. A region whose rounds fail continuously for
 * down_after_ms is subjectively down; one that passes for up_after_ms is up
 * again. Only changes are reported (the node commits them). Rounds never
 * overlap: a region still probing when the next tick comes skips that tick. */
#ifndef BATON_DETECT_H
#define BATON_DETECT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "http_client.h"

struct baton_detect_region {
	const struct baton_region_config *cfg;
	bool down;                 /* subjective verdict */
	bool known;                /* a verdict has been reached (first round done) */
	bool last_ok;              /* last round */
	uint64_t fail_since, pass_since; /* mono ms of the current streak, 0 = none */
	unsigned pending;          /* probes of the running round still out */
	bool round_ok;
	char detail[192];          /* why the last failing probe failed */
	char round_detail[192];
	uint64_t round_started;
	/* metrics */
	uint64_t rounds_ok, rounds_failed;
	uint64_t last_latency_ms;
};

struct baton_detect {
	uv_loop_t *loop;
	struct baton_http_client *http;
	const struct baton_detection_config *cfg;
	struct baton_detect_region regions[BATON_MAX_REGIONS];
	unsigned n_regions;
	uv_timer_t timer;
	bool closing, timer_closed;
	unsigned pending_probes;   /* TCP probes whose handles are still open */
	void (*changed)(void *data, const char *region, bool down, const char *detail);
	void *data;
	void (*close_cb)(struct baton_detect *d);
	char observer_header[96];
	const char *headers[2];
};

/* Probe every region of @cc that has probes. @http must outlive @d. */
int baton_detect_init(struct baton_detect *d, uv_loop_t *loop, struct baton_http_client *http,
		      const struct baton_cluster_config *cc, const char *observer,
		      void (*changed)(void *data, const char *region, bool down, const char *detail), void *data);
void baton_detect_close(struct baton_detect *d, void (*cb)(struct baton_detect *d));
const struct baton_detect_region *baton_detect_region(const struct baton_detect *d, const char *name);

#endif
