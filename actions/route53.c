/* SPDX-License-Identifier: MIT */
/* The `route53` driver: set a weighted record through Route 53's
 * ChangeResourceRecordSets, signed with AWS Signature Version 4 by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:<region>:route53").
 *
 * Happy path: check the parameters -> credentials from the parameters, or from
 * credentials_file (the [default] profile of an AWS shared credentials file,
 * read through the libuv fs API; aws_session_token is sent as
 * X-Amz-Security-Token and signed) -> read the epoch record
 * `_baton-epoch.<name>` TXT (GET .../rrset?name=...&type=TXT&maxitems=1,
 * ListResourceRecordSets) -> POST /2013-04-01/hostedzone/{id}/rrset/ with one
 * change batch: UPSERT of the weighted record (name, type, set_identifier,
 * weight, ttl, values), and the epoch record replaced by DELETE (the exact
 * record read: TTL and values) + CREATE "epoch=7 region=us-east" (or CREATE
 * alone if there was none) -> 200 with ChangeInfo -> ok, naming the change id
 * and its status (PENDING until Route 53 has propagated it; INSYNC is not waited
 * for: a later verify step can).
 *
 * Fencing: Route 53 cannot make an UPSERT conditional, but a change batch is
 * atomic and a DELETE must match the record exactly. So the batch is a
 * compare-and-swap on the epoch record: a record holding a HIGHER epoch than
 * this step's refuses the write before anything is sent (not retryable: a newer
 * leader owns the zone), and a record changed between the read and the write
 * makes Route 53 reject the whole batch ("not found" / "already exists"),
 * which is retryable: the next attempt reads again.
 *
 * Failure modes: transport errors, 5xx, 429, and 400 Throttling or
 * PriorRequestNotComplete -> retryable; the compare-and-swap conflict above ->
 * retryable; other 4xx (InvalidChangeBatch, bad signature, no such zone) ->
 * failed, not retryable; errors quote Route 53's status and body.
 *
 * Drill: nothing is sent; the report shows the change that would be made. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

#define R53_BODY_MAX 16384

static const struct action_key r53_keys[] = {
	{"endpoint", false},       {"region", false},         {"access_key_id", false},
	{"secret_access_key", false}, {"credentials_file", false}, {"hosted_zone_id", true},
	{"name", true},            {"type", true},            {"set_identifier", true},
	{"weight", true},          {"value", true},           {"ttl", false},
	{NULL, false},
};

struct r53_attempt {
	struct baton_action_op op;
	char url[512];
	char sigv4[96];
	char userpwd[512];
	char token_hdr[ACTION_FILE_MAX + 32];
	const char *headers[4];
	char name[260];
	char epoch_name[280];
	char zone[40];
	char list_url[900];
	uint64_t weight, ttl;
	char *body;
	/* the epoch record as read: present, its TTL and values (unescaped) */
	bool had_epoch;
	uint64_t old_epoch, old_ttl;
	char old_values[4][160];
	unsigned n_old;
};

/* --- parameters ------------------------------------------------------------------------------ */

/* "Z1D633PJN98FT9" or "/hostedzone/Z1D633PJN98FT9" -> the id. */
static const char *r53_zone_id(const char *v)
{
	if (strncmp(v, "/hostedzone/", 12) == 0)
		return v + 12;
	return v;
}

static bool r53_zone_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 32)
		return false;
	for (; *id != '\0'; id++)
		if (!((*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9')))
			return false;
	return true;
}

static bool r53_region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 32)
		return false;
	for (; *r != '\0'; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
			return false;
	return true;
}

static int r53_check(const struct baton_action_params *p, bool expanded, char *err, size_t len)
{
	const char *v, *id, *secret, *file;
	uint64_t u;
	int rv;

#define CHECKED(x) ((x) != NULL && (expanded || !action_templated(x)))
	rv = action_check_keys("route53", p, r53_keys, err, len);
	if (rv != 0)
		return rv;
	id = baton_action_param(p, "access_key_id");
	secret = baton_action_param(p, "secret_access_key");
	file = baton_action_param(p, "credentials_file");
	if (file != NULL && (id != NULL || secret != NULL)) {
		(void)snprintf(err, len,
			       "route53: give credentials_file or access_key_id + "
			       "secret_access_key, not both");
		return -EINVAL;
	}
	if (file == NULL && (id == NULL || secret == NULL)) {
		(void)snprintf(err, len, "route53: missing parameter '%s' (or give credentials_file)",
			       id == NULL ? "access_key_id" : "secret_access_key");
		return -EINVAL;
	}
	v = baton_action_param(p, "endpoint");
	if (CHECKED(v) && !action_url_ok(v)) {
		(void)snprintf(err, len, "route53: endpoint '%s' is not an http:// or https:// URL",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "region");
	if (CHECKED(v) && !r53_region_ok(v)) {
		(void)snprintf(err, len, "route53: region '%s' is not like us-east-1", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "hosted_zone_id");
	if (CHECKED(v) && !r53_zone_ok(r53_zone_id(v))) {
		(void)snprintf(err, len, "route53: hosted_zone_id '%s' is not a zone id like Z1D633PJN98FT9",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "name");
	if (CHECKED(v) && !action_dns_name_ok(v)) {
		(void)snprintf(err, len, "route53: name '%s' is not a DNS name", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "set_identifier");
	if (CHECKED(v) && (strlen(v) > 128 || strpbrk(v, "<>&\"'") != NULL)) {
		(void)snprintf(err, len, "route53: set_identifier '%s' is over 128 characters or "
			       "holds <>&\"'", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "weight");
	if (CHECKED(v) && action_parse_u64(v, 0, 255, &u) != 0) {
		(void)snprintf(err, len, "route53: weight '%s' is not a number in 0..255", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "ttl");
	if (CHECKED(v) && action_parse_u64(v, 0, 2147483647, &u) != 0) {
		(void)snprintf(err, len, "route53: ttl '%s' is not a number of seconds", v);
		return -EINVAL;
	}
	if (CHECKED(baton_action_param(p, "type")) && CHECKED(baton_action_param(p, "value"))) {
		rv = action_check_records("route53", baton_action_param(p, "type"),
					  baton_action_param(p, "value"), err, len);
		if (rv != 0)
			return rv;
	}
#undef CHECKED
	return 0;
}

static int r53_validate(const struct baton_action_params *p, char *err, size_t len)
{
	return r53_check(p, false, err, len);
}

/* --- the change batch --------------------------------------------------------------------------- */

struct r53_buf {
	char *s;
	size_t len;
	bool overflow;
};

static void r53_put(struct r53_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void r53_put(struct r53_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, R53_BODY_MAX - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= R53_BODY_MAX - b->len)
		b->overflow = true;
	else
		b->len += (size_t)n;
}

/* @src with &, <, >, " and ' as XML entities. */
static void r53_put_text(struct r53_buf *b, const char *src)
{
	for (; *src != '\0'; src++) {
		switch (*src) {
		case '&': r53_put(b, "&amp;"); break;
		case '<': r53_put(b, "&lt;"); break;
		case '>': r53_put(b, "&gt;"); break;
		case '"': r53_put(b, "&quot;"); break;
		case '\'': r53_put(b, "&apos;"); break;
		default: r53_put(b, "%c", *src); break;
		}
	}
}

static void r53_put_value(struct r53_buf *b, const char *value)
{
	r53_put(b, "<ResourceRecord><Value>");
	r53_put_text(b, value);
	r53_put(b, "</Value></ResourceRecord>");
}

static int r53_build(struct r53_attempt *a)
{
	struct baton_action_op *op = &a->op;
	struct r53_buf b = {.s = malloc(R53_BODY_MAX)};
	const char *type = baton_action_param(&op->params, "type");
	const char *cursor = baton_action_param(&op->params, "value");
	char item[BATON_ACTION_VALUE_LEN], txt[128], comment[200];

	if (b.s == NULL)
		return -ENOMEM;
	(void)snprintf(comment, sizeof(comment), "baton epoch %llu: %s -> %s (%s, step %s)",
		       (unsigned long long)op->ctx.epoch, op->ctx.from, op->ctx.to,
		       op->ctx.transition, op->ctx.step);
	r53_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<ChangeResourceRecordSetsRequest "
		    "xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
		    "<ChangeBatch><Comment>");
	r53_put_text(&b, comment);
	r53_put(&b, "</Comment><Changes>");
	/* the weighted record; element order is the schema's */
	r53_put(&b, "<Change><Action>UPSERT</Action><ResourceRecordSet><Name>");
	r53_put_text(&b, a->name);
	r53_put(&b, "</Name><Type>%s</Type><SetIdentifier>", type);
	r53_put_text(&b, baton_action_param(&op->params, "set_identifier"));
	r53_put(&b, "</SetIdentifier><Weight>%llu</Weight><TTL>%llu</TTL><ResourceRecords>",
		(unsigned long long)a->weight, (unsigned long long)a->ttl);
	while (action_next_record(&cursor, item, sizeof(item)) > 0)
		r53_put_value(&b, item);
	r53_put(&b, "</ResourceRecords></ResourceRecordSet></Change>");
	/* the epoch record: DELETE exactly what was read, CREATE ours (atomic) */
	if (a->had_epoch) {
		r53_put(&b, "<Change><Action>DELETE</Action><ResourceRecordSet><Name>");
		r53_put_text(&b, a->epoch_name);
		r53_put(&b, "</Name><Type>TXT</Type><TTL>%llu</TTL><ResourceRecords>",
			(unsigned long long)a->old_ttl);
		for (unsigned i = 0; i < a->n_old; i++)
			r53_put_value(&b, a->old_values[i]);
		r53_put(&b, "</ResourceRecords></ResourceRecordSet></Change>");
	}
	action_epoch_txt(txt, sizeof(txt), op->ctx.epoch, op->ctx.to);
	r53_put(&b, "<Change><Action>CREATE</Action><ResourceRecordSet><Name>");
	r53_put_text(&b, a->epoch_name);
	r53_put(&b, "</Name><Type>TXT</Type><TTL>%llu</TTL><ResourceRecords>",
		(unsigned long long)a->ttl);
	r53_put_value(&b, txt);
	r53_put(&b, "</ResourceRecords></ResourceRecordSet></Change>"
		    "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>\n");
	if (b.overflow) {
		free(b.s);
		return -E2BIG;
	}
	a->body = b.s;
	return 0;
}

/* --- the call ---------------------------------------------------------------------------------- */

/* The text of <@tag> in @xml, for the report only (never for a decision). */
static void r53_tag(const char *xml, const char *tag, char *dst, size_t n)
{
	char open[40], close[40];
	const char *s, *e;

	dst[0] = '\0';
	(void)snprintf(open, sizeof(open), "<%s>", tag);
	(void)snprintf(close, sizeof(close), "</%s>", tag);
	s = strstr(xml, open);
	if (s == NULL)
		return;
	s += strlen(open);
	e = strstr(s, close);
	if (e == NULL)
		return;
	action_excerpt(dst, n, s, (size_t)(e - s));
}

/* A call to @what that did not answer 200: fail the attempt, in Route 53's own
 * words (<Error><Code>..</Code><Message>..</Message>) when it gave them. */
static void r53_fail(struct r53_attempt *a, const char *what, const struct baton_http_result *r)
{
	struct baton_action_op *op = &a->op;
	char code[64], msg[200];
	bool retryable, conflict;

	if (r->err != 0 || r->status == 0) {
		action_http_fail(op, what, r);
		return;
	}
	r53_tag(r->body, "Code", code, sizeof(code));
	r53_tag(r->body, "Message", msg, sizeof(msg));
	if (code[0] == '\0') {
		action_http_fail(op, what, r);
		return;
	}
	/* The epoch record changed between our read and our batch. */
	conflict = strcmp(code, "InvalidChangeBatch") == 0 && strstr(msg, a->epoch_name) != NULL &&
		   (strstr(msg, "not found") != NULL || strstr(msg, "already exists") != NULL);
	retryable = r->status >= 500 || r->status == 429 || conflict || strcmp(code, "Throttling") == 0 ||
		    strcmp(code, "PriorRequestNotComplete") == 0;
	action_fail(op, BATON_ACTION_EFAILED, retryable, "%s: %s: HTTP %ld %s: %s%s", op->target, what,
		    r->status, code, msg, conflict ? " (the epoch record changed meanwhile; read again)" : "");
}

static void r53_posted_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct r53_attempt *a = (struct r53_attempt *)op;
	char id[80], status[40];

	if (r->err != 0 || r->status != 200) {
		r53_fail(a, "ChangeResourceRecordSets", r);
		return;
	}
	r53_tag(r->body, "Id", id, sizeof(id));
	r53_tag(r->body, "Status", status, sizeof(status));
	action_done(op, "UPSERT %s %s weight %llu (set %s) -> %s; epoch %llu in %s TXT (was %s); change %s %s",
		    a->name, baton_action_param(&op->params, "type"),
		    (unsigned long long)a->weight,
		    baton_action_param(&op->params, "set_identifier"),
		    baton_action_param(&op->params, "value"), (unsigned long long)op->ctx.epoch,
		    a->epoch_name, a->had_epoch ? a->old_values[0] : "absent", id[0] ? id : "?",
		    status[0] ? status : "?");
}

/* One signed Route 53 call: @body (text/xml) or none; the session token if any. */
static void r53_call(struct r53_attempt *a, const char *method, const char *url, const char *body,
		     const char *phase, action_http_fn fn)
{
	struct baton_http_call_opts o = {0};
	int n = 0;

	if (body != NULL)
		a->headers[n++] = "Content-Type: text/xml";
	if (a->token_hdr[0] != '\0')
		a->headers[n++] = a->token_hdr;
	a->headers[n] = NULL;
	o.method = method;
	o.url = url;
	o.headers = a->headers;
	o.body = body;
	o.body_len = body != NULL ? strlen(body) : 0;
	o.aws_sigv4 = a->sigv4;
	o.userpwd = a->userpwd;
	a->op.phase = phase;
	action_http(&a->op, &o, fn);
}

static void r53_post(struct r53_attempt *a)
{
	int rv = r53_build(a);

	if (rv != 0) {
		action_fail(&a->op, rv, false, "%s: cannot build the change batch: %s", a->op.target,
			    strerror(-rv));
		return;
	}
	r53_call(a, "POST", a->url, a->body, "waiting for ChangeResourceRecordSets", r53_posted_cb);
}

/* @src (XML text) into @dst with the five predefined entities decoded. */
static void r53_unescape(char *dst, size_t n, const char *src, size_t len)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < n;) {
		size_t k;
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
			if (strncmp(src + i, ents[k].ent, strlen(ents[k].ent)) == 0)
				break;
		if (k < sizeof(ents) / sizeof(ents[0])) {
			dst[o++] = ents[k].c;
			i += strlen(ents[k].ent);
		} else {
			dst[o++] = src[i++];
		}
	}
	dst[o] = '\0';
}

/* The text between <@tag> and </@tag> within [@s, @end), or NULL. */
static const char *r53_find(const char *s, const char *end, const char *tag, size_t *len)
{
	char open[40], close[40];
	const char *b, *e;

	(void)snprintf(open, sizeof(open), "<%s>", tag);
	(void)snprintf(close, sizeof(close), "</%s>", tag);
	b = strstr(s, open);
	if (b == NULL || b >= end)
		return NULL;
	b += strlen(open);
	e = strstr(b, close);
	if (e == NULL || e > end)
		return NULL;
	*len = (size_t)(e - b);
	return b;
}

/* ListResourceRecordSets answered: the first record set at or after our name. */
static void r53_listed_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct r53_attempt *a = (struct r53_attempt *)op;
	const char *set, *end, *v;
	char name[300], type[16], num[32];
	size_t len;
	unsigned long long e;

	if (r->err != 0 || r->status != 200) {
		r53_fail(a, "ListResourceRecordSets (reading the epoch record)", r);
		return;
	}
	a->had_epoch = false;
	set = strstr(r->body, "<ResourceRecordSet>");
	end = set != NULL ? strstr(set, "</ResourceRecordSet>") : NULL;
	if (set != NULL && end != NULL && (v = r53_find(set, end, "Name", &len)) != NULL) {
		r53_unescape(name, sizeof(name), v, len);
		v = r53_find(set, end, "Type", &len);
		r53_unescape(type, sizeof(type), v != NULL ? v : "", v != NULL ? len : 0);
		a->had_epoch = strcasecmp(name, a->epoch_name) == 0 && strcmp(type, "TXT") == 0;
	}
	if (a->had_epoch) {
		v = r53_find(set, end, "TTL", &len);
		r53_unescape(num, sizeof(num), v != NULL ? v : "", v != NULL ? len : 0);
		if (action_parse_u64(num, 0, 2147483647, &a->old_ttl) != 0) {
			action_fail(op, BATON_ACTION_EFAILED, false, "%s: %s TXT has no TTL I can read ('%s')",
				    op->target, a->epoch_name, num);
			return;
		}
		a->n_old = 0;
		for (const char *p = set; (v = r53_find(p, end, "Value", &len)) != NULL; p = v + len) {
			if (a->n_old == sizeof(a->old_values) / sizeof(a->old_values[0]) ||
			    len >= sizeof(a->old_values[0])) {
				action_fail(op, BATON_ACTION_EFAILED, false,
					    "%s: %s TXT holds more than baton writes; not touching it", op->target,
					    a->epoch_name);
				return;
			}
			r53_unescape(a->old_values[a->n_old++], sizeof(a->old_values[0]), v, len);
		}
		if (a->n_old != 1 || sscanf(a->old_values[0], "\"epoch=%llu ", &e) != 1) {
			action_fail(op, BATON_ACTION_EFAILED, false,
				    "%s: %s TXT holds %s, not a baton epoch record; not touching it", op->target,
				    a->epoch_name, a->n_old > 0 ? a->old_values[0] : "no value");
			return;
		}
		a->old_epoch = e;
		if (a->old_epoch > op->ctx.epoch) {
			action_fail(op, BATON_ACTION_EFAILED, false,
				    "%s: stale write refused: %s holds epoch %llu, this step's epoch is %llu "
				    "(a newer transition owns the record); nothing changed",
				    op->target, a->epoch_name, e, (unsigned long long)op->ctx.epoch);
			return;
		}
	}
	r53_post(a);
}

static void r53_list(struct r53_attempt *a)
{
	r53_call(a, "GET", a->list_url, NULL, "reading the epoch record (ListResourceRecordSets)", r53_listed_cb);
}

/* The [default] profile of an AWS shared credentials file. */
static void r53_creds_read(struct baton_action_op *op, const char *text, size_t len)
{
	struct r53_attempt *a = (struct r53_attempt *)op;
	char id[256] = "", secret[256] = "", token[ACTION_FILE_MAX] = "";
	bool in_default = false;
	const char *line = text;

	(void)len;
	while (*line != '\0') {
		size_t n = strcspn(line, "\n");
		char buf[ACTION_FILE_MAX + 1], *k, *v, *end;

		memcpy(buf, line, n);
		buf[n] = '\0';
		line += n + (line[n] == '\n');
		for (k = buf; *k == ' ' || *k == '\t'; k++)
			;
		end = k + strlen(k);
		while (end > k && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*k == '[') {
			in_default = strcmp(k, "[default]") == 0 || strcmp(k, "[profile default]") == 0;
			continue;
		}
		if (!in_default || *k == '#' || *k == ';' || (v = strchr(k, '=')) == NULL)
			continue;
		for (end = v; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		*end = '\0';
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		if (strcmp(k, "aws_access_key_id") == 0)
			(void)snprintf(id, sizeof(id), "%s", v);
		else if (strcmp(k, "aws_secret_access_key") == 0)
			(void)snprintf(secret, sizeof(secret), "%s", v);
		else if (strcmp(k, "aws_session_token") == 0)
			(void)snprintf(token, sizeof(token), "%s", v);
	}
	if (id[0] == '\0' || secret[0] == '\0') {
		action_fail(op, -EINVAL, false,
			    "%s: credentials_file '%s' has no aws_access_key_id and "
			    "aws_secret_access_key in [default]",
			    op->target, op->fs_path);
		return;
	}
	(void)snprintf(a->userpwd, sizeof(a->userpwd), "%s:%s", id, secret);
	if (token[0] != '\0')
		(void)snprintf(a->token_hdr, sizeof(a->token_hdr), "X-Amz-Security-Token: %s", token);
	r53_list(a);
}

/* --- start ------------------------------------------------------------------------------------ */

static void r53_cleanup(struct baton_action_op *op)
{
	struct r53_attempt *a = (struct r53_attempt *)op;

	free(a->body);
	/* do not leave the secret in freed memory */
	memset(a->userpwd, 0, sizeof(a->userpwd));
	memset(a->token_hdr, 0, sizeof(a->token_hdr));
	memset(op->fs_buf, 0, sizeof(op->fs_buf));
}

static int r53_start(const struct baton_action_env *env, const struct baton_action_params *p,
		     const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		     struct baton_action_op **ret_op)
{
	struct r53_attempt *a;
	struct baton_action_op *op;
	char err[256], endpoint[BATON_ACTION_VALUE_LEN];
	const char *file;
	size_t n;

	if (env == NULL || env->http == NULL)
		return -EINVAL;
	op = action_op_new(sizeof(*a), &baton_action_driver_route53, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct r53_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	op->cleanup_fn = r53_cleanup;
	(void)snprintf(a->zone, sizeof(a->zone), "%s",
		       r53_zone_id(action_param_or(&op->params, "hosted_zone_id", "?")));
	(void)snprintf(op->target, sizeof(op->target), "route53 zone %s", a->zone);
	if (r53_check(&op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	action_fqdn(a->name, sizeof(a->name), baton_action_param(&op->params, "name"));
	(void)snprintf(a->epoch_name, sizeof(a->epoch_name), "_baton-epoch.%s", a->name);
	(void)action_parse_u64(baton_action_param(&op->params, "weight"), 0, 255, &a->weight);
	(void)action_parse_u64(action_param_or(&op->params, "ttl", "60"), 0, 2147483647, &a->ttl);
	(void)snprintf(endpoint, sizeof(endpoint), "%s",
		       action_param_or(&op->params, "endpoint", "https://route53.amazonaws.com"));
	n = strlen(endpoint);
	while (n > 0 && endpoint[n - 1] == '/')
		endpoint[--n] = '\0';
	(void)snprintf(a->url, sizeof(a->url), "%s/2013-04-01/hostedzone/%s/rrset/", endpoint,
		       a->zone);
	/* DNS-name characters only (checked above): nothing to percent-encode. */
	(void)snprintf(a->list_url, sizeof(a->list_url),
		       "%s/2013-04-01/hostedzone/%s/rrset?maxitems=1&name=%s&type=TXT", endpoint, a->zone,
		       a->epoch_name);
	(void)snprintf(a->sigv4, sizeof(a->sigv4), "aws:amz:%s:route53",
		       action_param_or(&op->params, "region", "us-east-1"));
	if (op->ctx.drill) {
		action_done(op,
			    "drill: would UPSERT %s %s weight %llu (set %s) -> %s and %s TXT "
			    "epoch %llu; nothing sent",
			    a->name, baton_action_param(&op->params, "type"),
			    (unsigned long long)a->weight,
			    baton_action_param(&op->params, "set_identifier"),
			    baton_action_param(&op->params, "value"), a->epoch_name,
			    (unsigned long long)op->ctx.epoch);
		return 0;
	}
	file = baton_action_param(&op->params, "credentials_file");
	if (file == NULL) {
		(void)snprintf(a->userpwd, sizeof(a->userpwd), "%s:%s",
			       baton_action_param(&op->params, "access_key_id"),
			       baton_action_param(&op->params, "secret_access_key"));
		r53_list(a);
		return 0;
	}
	op->phase = "reading credentials_file";
	action_read_file(op, file, r53_creds_read);
	return 0;
}

const struct baton_action_driver baton_action_driver_route53 = {
	.name = "route53",
	.idempotent = true,
	.validate = r53_validate,
	.start = r53_start,
	.cancel = action_cancel,
};
