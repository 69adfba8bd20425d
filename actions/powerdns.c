/* SPDX-License-Identifier: MIT */
/* The `powerdns` driver: point a name at the new region through the PowerDNS
 * Authoritative HTTP API (/api/v1), and keep the epoch in a TXT record beside it.
 *
 * Happy path: check the parameters -> read the API key (api_key_file through the
 * libuv fs API) -> GET /api/v1/servers/{server}/zones/{zone} -> find the epoch
 * record (TXT `_baton-epoch.<name>` unless `epoch_record` says otherwise); if it
 * holds an epoch higher than ours -> BATON_ACTION_ESTALE, nothing written ->
 * ONE PATCH that REPLACEs the target rrset (every `content` item) and the epoch
 * record ("epoch=7 region=us-east") -> 204 -> ok (with what it was before).
 *
 * The read and the write are two requests: a leader with a higher epoch could
 * write between them and this PATCH would still land. PowerDNS has no
 * conditional rrset update, so that window is closed by the executor (leader
 * check and epoch check before each step), not here; a later attempt by the
 * newer leader rewrites both records anyway. Both records change in one PATCH,
 * which PowerDNS applies in one transaction.
 *
 * Drill: the same protocol on `drill.<name>` and its own epoch record
 * (`_baton-epoch.drill.<name>`, or `drill.<epoch_record>`); the production epoch
 * record is still read, and a newer one there fails the drill with ESTALE, as a
 * real attempt would.
 *
 * Failure modes: transport errors -> retryable; 5xx/429 -> retryable; 4xx
 * (bad key, unknown zone, 422 for a bad record) -> not retryable; every error
 * quotes PowerDNS's status and body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "driver.h"

static const struct action_key pdns_keys[] = {
	{"api", true},     {"api_key", false}, {"api_key_file", false}, {"server", false},
	{"zone", true},    {"name", true},     {"type", true},          {"content", true},
	{"ttl", false},    {"epoch_record", false}, {NULL, false},
};

#define PDNS_NAME_LEN 260

struct pdns_attempt {
	struct baton_action_op op;
	char api[BATON_ACTION_VALUE_LEN];
	char zone[PDNS_NAME_LEN];
	char name[PDNS_NAME_LEN];        /* what this attempt writes (drill.<name> in a drill) */
	char epoch_name[PDNS_NAME_LEN];  /* its epoch record */
	char prod_epoch[PDNS_NAME_LEN];  /* the production epoch record */
	char type[8];
	uint64_t ttl;
	char url[1024];
	char key_hdr[ACTION_FILE_MAX + 16];
	const char *headers[4];
	char was[200];                   /* the target rrset before */
	bool has_stored;
	uint64_t stored;                 /* highest epoch seen in the records we check */
	char *body;
};

/* --- parameters -------------------------------------------------------------------------- */

static int pdns_check(const struct baton_action_params *p, bool expanded, char *err, size_t len)
{
	const char *v, *key, *keyfile, *type;
	char zone[PDNS_NAME_LEN], name[PDNS_NAME_LEN];
	uint64_t u;
	int rv;

#define CHECKED(x) ((x) != NULL && (expanded || !action_templated(x)))
	rv = action_check_keys("powerdns", p, pdns_keys, err, len);
	if (rv != 0)
		return rv;
	key = baton_action_param(p, "api_key");
	keyfile = baton_action_param(p, "api_key_file");
	if ((key == NULL) == (keyfile == NULL)) {
		(void)snprintf(err, len, "powerdns: give one of 'api_key' or 'api_key_file'%s",
			       key != NULL ? ", not both" : "");
		return -EINVAL;
	}
	v = baton_action_param(p, "api");
	if (CHECKED(v) && !action_url_ok(v)) {
		(void)snprintf(err, len, "powerdns: api '%s' is not an http:// or https:// URL", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "server");
	if (CHECKED(v) && !action_dns_name_ok(v)) {
		(void)snprintf(err, len, "powerdns: server '%s' is not a server id", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "zone");
	if (CHECKED(v) && !action_dns_name_ok(v)) {
		(void)snprintf(err, len, "powerdns: zone '%s' is not a DNS name", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "name");
	if (CHECKED(v) && !action_dns_name_ok(v)) {
		(void)snprintf(err, len, "powerdns: name '%s' is not a DNS name", v);
		return -EINVAL;
	}
	if (CHECKED(baton_action_param(p, "zone")) && CHECKED(v)) {
		action_fqdn(zone, sizeof(zone), baton_action_param(p, "zone"));
		action_fqdn(name, sizeof(name), v);
		if (!action_name_in_zone(name, zone)) {
			(void)snprintf(err, len, "powerdns: name '%s' is not in zone '%s'", name,
				       zone);
			return -EINVAL;
		}
		v = baton_action_param(p, "epoch_record");
		if (CHECKED(v)) {
			action_fqdn(name, sizeof(name), v);
			if (!action_dns_name_ok(v) || !action_name_in_zone(name, zone)) {
				(void)snprintf(err, len,
					       "powerdns: epoch_record '%s' is not a DNS name in zone "
					       "'%s'",
					       v, zone);
				return -EINVAL;
			}
		}
	}
	type = baton_action_param(p, "type");
	v = baton_action_param(p, "content");
	if (CHECKED(type) && CHECKED(v)) {
		rv = action_check_records("powerdns", type, v, err, len);
		if (rv != 0)
			return rv;
	}
	v = baton_action_param(p, "ttl");
	if (CHECKED(v) && action_parse_u64(v, 1, 2147483647, &u) != 0) {
		(void)snprintf(err, len, "powerdns: ttl '%s' is not a number of seconds >= 1", v);
		return -EINVAL;
	}
#undef CHECKED
	return 0;
}

static int pdns_validate(const struct baton_action_params *p, char *err, size_t len)
{
	return pdns_check(p, false, err, len);
}

/* --- write --------------------------------------------------------------------------------- */

static void pdns_patched_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct pdns_attempt *a = (struct pdns_attempt *)op;
	char stored[32];

	if (r->err != 0 || r->status != 204) {
		action_http_fail(op, "PATCH zone", r);
		return;
	}
	if (a->has_stored)
		(void)snprintf(stored, sizeof(stored), "%llu", (unsigned long long)a->stored);
	action_done(op, "%s%s %s %s (was %s), ttl %llu; epoch %llu stored in %s TXT (was %s)",
		    op->ctx.drill ? "drill: " : "", a->name, a->type,
		    action_param_or(&op->params, "content", ""), a->was[0] ? a->was : "none",
		    (unsigned long long)a->ttl, (unsigned long long)op->ctx.epoch, a->epoch_name,
		    a->has_stored ? stored : "none");
}

static json_t *pdns_rrset(const char *name, const char *type, uint64_t ttl)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:[]}", "name", name, "type", type, "ttl",
			 (json_int_t)ttl, "changetype", "REPLACE", "records");
}

static int pdns_add_record(json_t *rrset, const char *content)
{
	json_t *rec = json_pack("{s:s, s:b}", "content", content, "disabled", 0);

	if (rec == NULL)
		return -ENOMEM;
	return json_array_append_new(json_object_get(rrset, "records"), rec) == 0 ? 0 : -ENOMEM;
}

static void pdns_patch(struct pdns_attempt *a)
{
	struct baton_action_op *op = &a->op;
	struct baton_http_call_opts o = {0};
	const char *cursor = action_param_or(&op->params, "content", "");
	char item[BATON_ACTION_VALUE_LEN + 2], txt[128];
	json_t *root, *target, *epoch;
	int rv = 0;

	target = pdns_rrset(a->name, a->type, a->ttl);
	epoch = pdns_rrset(a->epoch_name, "TXT", a->ttl);
	root = json_pack("{s:[oo]}", "rrsets", target, epoch);
	if (root == NULL) {
		action_fail(op, -ENOMEM, false, "%s: out of memory building the PATCH", op->target);
		return;
	}
	while (rv == 0 && action_next_record(&cursor, item, sizeof(item) - 1) > 0) {
		size_t l = strlen(item);

		if (strcmp(a->type, "CNAME") == 0 && l > 0 && item[l - 1] != '.') {
			item[l] = '.'; /* room kept: read with sizeof(item) - 1 */
			item[l + 1] = '\0';
		}
		rv = pdns_add_record(target, item);
	}
	action_epoch_txt(txt, sizeof(txt), op->ctx.epoch, op->ctx.to);
	if (rv == 0)
		rv = pdns_add_record(epoch, txt);
	a->body = rv == 0 ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (a->body == NULL) {
		action_fail(op, -ENOMEM, false, "%s: out of memory building the PATCH", op->target);
		return;
	}
	a->headers[1] = "Content-Type: application/json";
	o.method = "PATCH";
	o.url = a->url;
	o.headers = a->headers;
	o.body = a->body;
	o.body_len = strlen(a->body);
	op->phase = "writing the records";
	action_http(op, &o, pdns_patched_cb);
}

/* --- read ---------------------------------------------------------------------------------- */

/* Highest epoch in the TXT rrset @name of @rrsets. */
static void pdns_read_epoch(struct pdns_attempt *a, json_t *rrsets, const char *name)
{
	size_t i, j;
	json_t *rrset, *rec;

	json_array_foreach(rrsets, i, rrset) {
		const char *n = json_string_value(json_object_get(rrset, "name"));
		const char *t = json_string_value(json_object_get(rrset, "type"));

		if (n == NULL || t == NULL || strcasecmp(n, name) != 0 || strcmp(t, "TXT") != 0)
			continue;
		json_array_foreach(json_object_get(rrset, "records"), j, rec) {
			const char *c = json_string_value(json_object_get(rec, "content"));
			uint64_t e;

			if (c != NULL && action_epoch_from_txt(c, &e) &&
			    (!a->has_stored || e > a->stored)) {
				a->has_stored = true;
				a->stored = e;
			}
		}
	}
}

/* The target rrset's records before the change, for the report. */
static void pdns_read_was(struct pdns_attempt *a, json_t *rrsets)
{
	size_t i, j, o = 0;
	json_t *rrset, *rec;

	json_array_foreach(rrsets, i, rrset) {
		const char *n = json_string_value(json_object_get(rrset, "name"));
		const char *t = json_string_value(json_object_get(rrset, "type"));

		if (n == NULL || t == NULL || strcasecmp(n, a->name) != 0 || strcmp(t, a->type) != 0)
			continue;
		json_array_foreach(json_object_get(rrset, "records"), j, rec) {
			const char *c = json_string_value(json_object_get(rec, "content"));

			if (c != NULL && o + 1 < sizeof(a->was))
				o += (size_t)snprintf(a->was + o, sizeof(a->was) - o, "%s%s",
						      o > 0 ? "," : "", c);
		}
	}
}

static void pdns_zone_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct pdns_attempt *a = (struct pdns_attempt *)op;
	json_error_t jerr;
	json_t *zone, *rrsets;

	if (r->err != 0 || r->status != 200) {
		action_http_fail(op, "GET zone", r);
		return;
	}
	zone = json_loadb(r->body, r->body_len, 0, &jerr);
	rrsets = json_object_get(zone, "rrsets");
	if (!json_is_array(rrsets)) {
		action_fail(op, BATON_ACTION_EFAILED, true,
			    "%s: GET zone: no rrsets in the answer (%s)", op->target,
			    zone == NULL ? jerr.text : "not a zone object");
		json_decref(zone);
		return;
	}
	pdns_read_epoch(a, rrsets, a->prod_epoch);
	if (op->ctx.drill)
		pdns_read_epoch(a, rrsets, a->epoch_name);
	pdns_read_was(a, rrsets);
	json_decref(zone);
	if (a->has_stored && a->stored > op->ctx.epoch) {
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: refusing%s to write %s: the zone already carries epoch %llu > %llu",
			    op->target, op->ctx.drill ? " (drill)" : "", a->name,
			    (unsigned long long)a->stored, (unsigned long long)op->ctx.epoch);
		return;
	}
	pdns_patch(a);
}

static void pdns_get_zone(struct pdns_attempt *a)
{
	struct baton_action_op *op = &a->op;
	struct baton_http_call_opts o = {0};

	a->headers[0] = a->key_hdr;
	a->headers[1] = "Accept: application/json";
	a->headers[2] = NULL;
	o.method = "GET";
	o.url = a->url;
	o.headers = a->headers;
	op->phase = "reading the zone";
	action_http(op, &o, pdns_zone_cb);
}

static void pdns_key_read(struct baton_action_op *op, const char *text, size_t len)
{
	struct pdns_attempt *a = (struct pdns_attempt *)op;

	if (len == 0 || strpbrk(text, "\r\n") != NULL) {
		action_fail(op, -EINVAL, false, "%s: api_key_file '%s' must hold the key on one line",
			    op->target, op->fs_path);
		return;
	}
	(void)snprintf(a->key_hdr, sizeof(a->key_hdr), "X-API-Key: %s", text);
	pdns_get_zone(a);
}

/* --- start ---------------------------------------------------------------------------------- */

static void pdns_cleanup(struct baton_action_op *op)
{
	free(((struct pdns_attempt *)op)->body);
}

static int pdns_start(const struct baton_action_env *env, const struct baton_action_params *p,
		      const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		      struct baton_action_op **ret_op)
{
	struct pdns_attempt *a;
	struct baton_action_op *op;
	char err[256], name[PDNS_NAME_LEN];
	const char *v;
	size_t n;

	if (env == NULL || env->http == NULL)
		return -EINVAL;
	op = action_op_new(sizeof(*a), &baton_action_driver_powerdns, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct pdns_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	op->cleanup_fn = pdns_cleanup;
	(void)snprintf(a->api, sizeof(a->api), "%s", action_param_or(&op->params, "api", ""));
	n = strlen(a->api);
	while (n > 0 && a->api[n - 1] == '/')
		a->api[--n] = '\0';
	(void)snprintf(op->target, sizeof(op->target), "powerdns %s zone %s", a->api,
		       action_param_or(&op->params, "zone", "?"));
	if (pdns_check(&op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	action_fqdn(a->zone, sizeof(a->zone), baton_action_param(&op->params, "zone"));
	action_fqdn(name, sizeof(name), baton_action_param(&op->params, "name"));
	(void)snprintf(a->type, sizeof(a->type), "%s", baton_action_param(&op->params, "type"));
	(void)action_parse_u64(action_param_or(&op->params, "ttl", "5"), 1, 2147483647, &a->ttl);
	v = baton_action_param(&op->params, "epoch_record");
	if (v != NULL)
		action_fqdn(a->prod_epoch, sizeof(a->prod_epoch), v);
	else
		(void)snprintf(a->prod_epoch, sizeof(a->prod_epoch), "_baton-epoch.%s", name);
	if (op->ctx.drill) {
		(void)snprintf(a->name, sizeof(a->name), "drill.%s", name);
		if (v != NULL)
			(void)snprintf(a->epoch_name, sizeof(a->epoch_name), "drill.%s",
				       a->prod_epoch);
		else
			(void)snprintf(a->epoch_name, sizeof(a->epoch_name), "_baton-epoch.%s",
				       a->name);
	} else {
		(void)snprintf(a->name, sizeof(a->name), "%s", name);
		(void)snprintf(a->epoch_name, sizeof(a->epoch_name), "%s", a->prod_epoch);
	}
	if (strlen(a->name) > 254 || strlen(a->epoch_name) > 254) {
		action_fail(op, -EINVAL, false, "%s: name '%s' is too long", op->target, a->epoch_name);
		return 0;
	}
	(void)snprintf(a->url, sizeof(a->url), "%s/api/v1/servers/%s/zones/%s", a->api,
		       action_param_or(&op->params, "server", "localhost"), a->zone);
	v = baton_action_param(&op->params, "api_key");
	if (v != NULL) {
		(void)snprintf(a->key_hdr, sizeof(a->key_hdr), "X-API-Key: %s", v);
		pdns_get_zone(a);
		return 0;
	}
	op->phase = "reading api_key_file";
	action_read_file(op, baton_action_param(&op->params, "api_key_file"), pdns_key_read);
	return 0;
}

const struct baton_action_driver baton_action_driver_powerdns = {
	.name = "powerdns",
	.idempotent = true,
	.validate = pdns_validate,
	.start = pdns_start,
	.cancel = action_cancel,
};
