/* SPDX-License-Identifier: MIT */
/* One line per event, key=value, to stderr.
 *
 * Format: `level=info sys=raft msg="became leader" term=4 epoch=2`.
 * Under systemd (JOURNAL_STREAM is set) each line starts with a `<N>` syslog
 * priority so journald files it at the right level. Library code under lib/
 * and raft/ only logs at debug; node/ decides and logs once. */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum baton_log_level {
	BATON_LOG_DEBUG,
	BATON_LOG_INFO,
	BATON_LOG_NOTICE,
	BATON_LOG_WARN,
	BATON_LOG_ERROR,
	BATON_LOG_CRIT,
	BATON_LOG_LEVEL_NR
};

/* Set the lowest level printed. Reads JOURNAL_STREAM once to decide on <N>. */
void baton_log_init(enum baton_log_level min, const char *ident);
/* Parse "debug", "info", "notice", "warn", "error", "crit". Returns -1 if unknown. */
int baton_log_level_parse(const char *s);
bool baton_log_enabled(enum baton_log_level lvl);

/* @fmt produces the fields after msg, e.g. "term=%llu epoch=%llu"; may be NULL.
 * @msg is quoted and escaped for you. */
void baton_logf(enum baton_log_level lvl, const char *sys, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define BATON_LOG(lvl, sys, msg, ...) baton_logf(BATON_LOG_##lvl, sys, msg, __VA_ARGS__)
#define log_debug(sys, msg, ...) baton_logf(BATON_LOG_DEBUG, sys, msg, __VA_ARGS__)
#define log_info(sys, msg, ...) baton_logf(BATON_LOG_INFO, sys, msg, __VA_ARGS__)
#define log_notice(sys, msg, ...) baton_logf(BATON_LOG_NOTICE, sys, msg, __VA_ARGS__)
#define log_warn(sys, msg, ...) baton_logf(BATON_LOG_WARN, sys, msg, __VA_ARGS__)
#define log_error(sys, msg, ...) baton_logf(BATON_LOG_ERROR, sys, msg, __VA_ARGS__)
#define log_crit(sys, msg, ...) baton_logf(BATON_LOG_CRIT, sys, msg, __VA_ARGS__)

/* Write @s into @out (size @n) quoted for a key=value log line: "a \"b\"".
 * Always NUL-terminates; truncates with "..." if needed. Returns @out. */
char *baton_log_quote(char *out, unsigned long n, const char *s);

#endif
