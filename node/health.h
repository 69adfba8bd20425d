/* SPDX-License-Identifier: MIT */
/* Health reports from this region's baton-reporters (POST /v1/health), and
 * the region's aggregated internal health, pushed to the leader on change. */
#ifndef BATON_HEALTH_H
#define BATON_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "http_server.h"
#include "report.h"

#define BATON_HEALTH_MAX_REPORTERS 1024

struct baton_health_reporter {
	char name[BATON_REPORT_NAME_MAX + 1];
	uint64_t last_ms;          /* mono time of the last accepted report */
	uint64_t seq;
	bool critical;
	bool has_lag;
	uint64_t lag_bytes, lag_ms;
	char detail[160];
};

struct baton_health {
	bool enabled;              /* a report key is configured and this is a region node */
	struct baton_report_verifier verifier;
	struct baton_health_reporter reporters[BATON_HEALTH_MAX_REPORTERS];
	unsigned n_reporters;
	uint64_t verdicts[BATON_REPORT_VERDICT_NR]; /* reports by outcome, for /metrics */
	/* the aggregate last pushed to the leader */
	bool pushed;
	bool p_critical, p_reporters_ok;
	uint64_t p_lag_bytes, p_lag_ms, p_at_ms;
};

struct baton_node;
int baton_health_init(struct baton_node *n, char *errbuf, size_t errlen);
void baton_health_done(struct baton_node *n);
void baton_health_handle_http(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req);
/* The region's current aggregate. */
void baton_health_aggregate(struct baton_node *n, bool *critical, bool *reporters_ok, bool *has_lag,
			    uint64_t *lag_bytes, uint64_t *lag_ms, char *detail, size_t detaillen);

#endif
