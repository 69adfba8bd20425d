/* SPDX-License-Identifier: MIT */
/* key=value logger; see log.h. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum baton_log_level min_level = BATON_LOG_INFO;
static bool journal_prefix;
static const char *log_ident = "baton";

static const struct {
	const char *name;
	int syslog_prio; /* <N> for journald: 7 debug .. 2 crit */
} levels[BATON_LOG_LEVEL_NR] = {
	[BATON_LOG_DEBUG] = {"debug", 7}, [BATON_LOG_INFO] = {"info", 6},
	[BATON_LOG_NOTICE] = {"notice", 5}, [BATON_LOG_WARN] = {"warn", 4},
	[BATON_LOG_ERROR] = {"error", 3}, [BATON_LOG_CRIT] = {"crit", 2},
};

void baton_log_init(enum baton_log_level min, const char *ident)
{
	min_level = min;
	journal_prefix = getenv("JOURNAL_STREAM") != NULL;
	if (ident != NULL)
		log_ident = ident;
}

int baton_log_level_parse(const char *s)
{
	for (int i = 0; i < BATON_LOG_LEVEL_NR; i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return BATON_LOG_WARN;
	return -1;
}

bool baton_log_enabled(enum baton_log_level lvl)
{
	return lvl >= min_level;
}

char *baton_log_quote(char *out, unsigned long n, const char *s)
{
	unsigned long j = 0;

	if (n < 6) {
		if (n > 0)
			out[0] = '\0';
		return out;
	}
	out[j++] = '"';
	for (; s != NULL && *s != '\0'; s++) {
		const char *esc = NULL;
		char c = *s;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if ((unsigned char)c < 0x20)
			esc = "?";
		unsigned long need = esc != NULL ? strlen(esc) : 1;
		if (j + need + 5 > n) { /* room for ...", NUL */
			memcpy(out + j, "...", 3);
			j += 3;
			break;
		}
		if (esc != NULL) {
			memcpy(out + j, esc, need);
			j += need;
		} else {
			out[j++] = c;
		}
	}
	out[j++] = '"';
	out[j] = '\0';
	return out;
}

void baton_logf(enum baton_log_level lvl, const char *sys, const char *msg, const char *fmt, ...)
{
	char line[2048];
	char qmsg[512];
	int off;

	if (lvl < min_level || lvl >= BATON_LOG_LEVEL_NR)
		return;
	if (journal_prefix) {
		off = snprintf(line, sizeof line, "<%d>level=%s sys=%s msg=%s", levels[lvl].syslog_prio,
			       levels[lvl].name, sys, baton_log_quote(qmsg, sizeof qmsg, msg));
	} else {
		struct timespec ts;
		struct tm tm;
		char tbuf[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
		off = snprintf(line, sizeof line, "ts=%s.%03ldZ %s level=%s sys=%s msg=%s", tbuf,
			       ts.tv_nsec / 1000000, log_ident, levels[lvl].name, sys,
			       baton_log_quote(qmsg, sizeof qmsg, msg));
	}
	if (off < 0)
		return;
	if ((size_t)off < sizeof line - 2 && fmt != NULL && fmt[0] != '\0') {
		va_list ap;
		line[off++] = ' ';
		va_start(ap, fmt);
		int m = vsnprintf(line + off, sizeof line - (size_t)off - 1, fmt, ap);
		va_end(ap);
		if (m > 0)
			off += m;
	}
	if ((size_t)off > sizeof line - 2)
		off = (int)sizeof line - 2;
	line[off++] = '\n';
	/* One write per line so concurrent writers never interleave mid-line. */
	(void)fwrite(line, 1, (size_t)off, stderr);
	fflush(stderr);
}
