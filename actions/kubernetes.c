/* SPDX-License-Identifier: MIT */
/* The `kubernetes` driver: scale a Deployment or StatefulSet through the API
 * server's scale subresource, with the epoch in an annotation.
 *
 * Happy path: check the parameters -> read the bearer token from token_file (re-read
 * on every attempt: projected service-account tokens rotate) -> GET
 * /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name} -> read
 * metadata.resourceVersion, annotation baton.io/epoch, spec.replicas. A higher
 * epoch there -> BATON_ACTION_ESTALE -> PATCH the object (merge-patch) with
 * metadata.resourceVersion set and the annotations baton.io/epoch and
 * baton.io/region: the API server applies it only if the object is unchanged
 * since our GET (compare-and-swap; 409 Conflict otherwise) -> PUT .../scale with
 * a Scale object carrying the resourceVersion the PATCH returned, so the
 * replica change is conditional too: a newer leader's write in between turns
 * ours into a 409 instead of undoing theirs -> ok.
 * When the object already carries our epoch (a retry), the PATCH is skipped and
 * the GET's resourceVersion is used; when it also already has the replica count,
 * nothing is written.
 *
 * Failure modes: 409 Conflict -> failed, retryable (the next attempt reads
 * again); 401/403/404/422 -> failed, not retryable; 5xx/429 and transport errors
 * -> retryable. TLS is verified against ca_file (or the system store); `insecure`
 * (tests only) turns verification off and is the only way to use http://.
 *
 * Drill: only the GET; the report says what would change. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "driver.h"

#define K8S_EPOCH_ANNOTATION "baton.io/epoch"
#define K8S_REGION_ANNOTATION "baton.io/region"

static const struct action_key k8s_keys[] = {
	{"api", true},      {"token_file", true}, {"ca_file", false}, {"insecure", false},
	{"namespace", true}, {"kind", true},      {"name", true},     {"replicas", true},
	{NULL, false},
};

struct k8s_attempt {
	struct baton_action_op op;
	char url[768];
	char scale_url[800];
	char auth[ACTION_FILE_MAX + 32];
	const char *headers[4];
	char ct[64];
	bool insecure;
	const char *ca_file;
	const char *kind;
	const char *ns, *name;
	uint64_t replicas;
	char rv[80];                  /* resourceVersion to write against */
	long long was;                /* spec.replicas before */
	bool has_epoch;
	uint64_t stored;
	char *body;
};

/* --- parameters ---------------------------------------------------------------------------- */

/* DNS-1123: a label (namespace) or a subdomain (object name). */
static bool k8s_name_ok(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      (dots && *s == '.')))
			return false;
	return true;
}

static int k8s_check(const struct baton_action_params *p, bool expanded, char *err, size_t len)
{
	const char *v, *api;
	uint64_t u;
	bool insecure = false;
	int rv;

#define CHECKED(x) ((x) != NULL && (expanded || !action_templated(x)))
	rv = action_check_keys("kubernetes", p, k8s_keys, err, len);
	if (rv != 0)
		return rv;
	v = baton_action_param(p, "insecure");
	if (CHECKED(v) && action_parse_bool(v, &insecure) != 0) {
		(void)snprintf(err, len, "kubernetes: insecure '%s' is not true or false", v);
		return -EINVAL;
	}
	api = baton_action_param(p, "api");
	if (CHECKED(api)) {
		if (!action_url_ok(api)) {
			(void)snprintf(err, len, "kubernetes: api '%s' is not an https:// URL", api);
			return -EINVAL;
		}
		if (strncmp(api, "https://", 8) != 0 && !insecure) {
			(void)snprintf(err, len,
				       "kubernetes: api '%s' is not https:// (a bearer token must not "
				       "travel in clear; http:// only with insecure: true, for tests)",
				       api);
			return -EINVAL;
		}
	}
	v = baton_action_param(p, "namespace");
	if (CHECKED(v) && !k8s_name_ok(v, 63, false)) {
		(void)snprintf(err, len, "kubernetes: namespace '%s' is not a DNS-1123 label", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "name");
	if (CHECKED(v) && !k8s_name_ok(v, 253, true)) {
		(void)snprintf(err, len, "kubernetes: name '%s' is not a DNS-1123 subdomain", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "kind");
	if (CHECKED(v) && strcmp(v, "deployment") != 0 && strcmp(v, "statefulset") != 0) {
		(void)snprintf(err, len, "kubernetes: kind '%s' is not deployment or statefulset",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "replicas");
	if (CHECKED(v) && action_parse_u64(v, 0, 1000000, &u) != 0) {
		(void)snprintf(err, len, "kubernetes: replicas '%s' is not a number in 0..1000000",
			       v);
		return -EINVAL;
	}
#undef CHECKED
	return 0;
}

static int k8s_validate(const struct baton_action_params *p, char *err, size_t len)
{
	return k8s_check(p, false, err, len);
}

/* --- requests ------------------------------------------------------------------------------ */

static void k8s_call(struct k8s_attempt *a, const char *method, const char *url,
		     const char *content_type, action_http_fn fn)
{
	struct baton_http_call_opts o = {0};

	a->headers[0] = a->auth;
	a->headers[1] = "Accept: application/json";
	a->headers[2] = NULL;
	if (content_type != NULL) {
		(void)snprintf(a->ct, sizeof(a->ct), "Content-Type: %s", content_type);
		a->headers[2] = a->ct;
		a->headers[3] = NULL;
	}
	o.method = method;
	o.url = url;
	o.headers = a->headers;
	o.body = a->body;
	o.body_len = a->body != NULL && strcmp(method, "GET") != 0 ? strlen(a->body) : 0;
	o.ca_file = a->ca_file;
	o.insecure_skip_verify = a->insecure;
	action_http(&a->op, &o, fn);
}

/* A failed call: the API server's own words are the `message` of its Status body. */
static void k8s_fail_status(struct k8s_attempt *a, const char *what,
			    const struct baton_http_result *r)
{
	char text[200];
	json_t *st;
	const char *msg;

	if (r->err != 0) {
		action_http_fail(&a->op, what, r);
		return;
	}
	st = json_loadb(r->body, r->body_len, 0, NULL);
	msg = json_string_value(json_object_get(st, "message"));
	action_excerpt(text, sizeof(text), msg != NULL ? msg : r->body,
		       msg != NULL ? SIZE_MAX : r->body_len);
	json_decref(st);
	if (r->status == 409) {
		action_fail(&a->op, BATON_ACTION_EFAILED, true,
			    "%s: %s: HTTP 409 Conflict (will read again): %s", a->op.target, what,
			    text);
		return;
	}
	action_fail(&a->op, BATON_ACTION_EFAILED,
		    r->status >= 500 || r->status == 429 || r->status == 408,
		    "%s: %s: HTTP %ld: %s", a->op.target, what, r->status,
		    text[0] != '\0' ? text : "(empty body)");
}

static void k8s_scaled_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct k8s_attempt *a = (struct k8s_attempt *)op;

	if (r->err != 0 || r->status != 200) {
		k8s_fail_status(a, "PUT scale", r);
		return;
	}
	action_done(op, "scaled to %" PRIu64 " replicas (was %lld)", a->replicas, a->was);
}

static void k8s_scale(struct k8s_attempt *a)
{
	struct baton_action_op *op = &a->op;
	json_t *scale;

	if (a->was == (long long)a->replicas) {
		action_done(op, "already at %" PRIu64 " replicas", a->replicas);
		return;
	}
	scale = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:I}}", "apiVersion", "autoscaling/v1",
			  "kind", "Scale", "metadata", "name", a->name, "namespace", a->ns,
			  "resourceVersion", a->rv, "spec", "replicas", (json_int_t)a->replicas);
	free(a->body);
	a->body = scale != NULL ? json_dumps(scale, JSON_COMPACT) : NULL;
	json_decref(scale);
	if (a->body == NULL) {
		action_fail(op, -ENOMEM, false, "%s: out of memory", op->target);
		return;
	}
	op->phase = "scaling";
	k8s_call(a, "PUT", a->scale_url, "application/json", k8s_scaled_cb);
}

static void k8s_annotated_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct k8s_attempt *a = (struct k8s_attempt *)op;
	json_t *obj;
	const char *rv;

	if (r->err != 0 || r->status != 200) {
		k8s_fail_status(a, "PATCH annotation", r);
		return;
	}
	obj = json_loadb(r->body, r->body_len, 0, NULL);
	rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
					       "resourceVersion"));
	if (rv == NULL) {
		json_decref(obj);
		action_fail(op, BATON_ACTION_EFAILED, true,
			    "%s: PATCH annotation: no metadata.resourceVersion in the answer",
			    op->target);
		return;
	}
	(void)snprintf(a->rv, sizeof(a->rv), "%s", rv);
	json_decref(obj);
	action_outf(op, "epoch %llu stored in %s; ", (unsigned long long)op->ctx.epoch,
		    K8S_EPOCH_ANNOTATION);
	k8s_scale(a);
}

static void k8s_annotate(struct k8s_attempt *a)
{
	struct baton_action_op *op = &a->op;
	char epoch[24];
	json_t *patch;

	(void)snprintf(epoch, sizeof(epoch), "%llu", (unsigned long long)op->ctx.epoch);
	patch = json_pack("{s:{s:s, s:{s:s, s:s}}}", "metadata", "resourceVersion", a->rv,
			  "annotations", K8S_EPOCH_ANNOTATION, epoch, K8S_REGION_ANNOTATION,
			  op->ctx.to);
	a->body = patch != NULL ? json_dumps(patch, JSON_COMPACT) : NULL;
	json_decref(patch);
	if (a->body == NULL) {
		action_fail(op, -ENOMEM, false, "%s: out of memory", op->target);
		return;
	}
	op->phase = "storing the epoch annotation";
	k8s_call(a, "PATCH", a->url, "application/merge-patch+json", k8s_annotated_cb);
}

static void k8s_got_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	struct k8s_attempt *a = (struct k8s_attempt *)op;
	json_t *obj, *meta, *spec, *ann;
	const char *rv, *epoch;
	char stored[32] = "none";

	if (r->err != 0 || r->status != 200) {
		k8s_fail_status(a, "GET", r);
		return;
	}
	obj = json_loadb(r->body, r->body_len, 0, NULL);
	meta = json_object_get(obj, "metadata");
	spec = json_object_get(obj, "spec");
	ann = json_object_get(meta, "annotations");
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	epoch = json_string_value(json_object_get(ann, K8S_EPOCH_ANNOTATION));
	if (rv == NULL) {
		json_decref(obj);
		action_fail(op, BATON_ACTION_EFAILED, true,
			    "%s: GET: no metadata.resourceVersion in the answer", op->target);
		return;
	}
	(void)snprintf(a->rv, sizeof(a->rv), "%s", rv);
	/* spec.replicas defaults to 1 when absent */
	a->was = json_is_integer(json_object_get(spec, "replicas"))
			 ? (long long)json_integer_value(json_object_get(spec, "replicas"))
			 : 1;
	if (epoch != NULL) {
		if (action_parse_u64(epoch, 0, UINT64_MAX, &a->stored) != 0) {
			action_fail(op, BATON_ACTION_EFAILED, false,
				    "%s: annotation %s is '%.40s', not a number", op->target,
				    K8S_EPOCH_ANNOTATION, epoch);
			json_decref(obj);
			return;
		}
		a->has_epoch = true;
		(void)snprintf(stored, sizeof(stored), "%s", epoch);
	}
	json_decref(obj);
	if (a->has_epoch && a->stored > op->ctx.epoch) {
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: refusing%s to scale: annotation %s is %llu > %llu", op->target,
			    op->ctx.drill ? " (drill)" : "", K8S_EPOCH_ANNOTATION,
			    (unsigned long long)a->stored, (unsigned long long)op->ctx.epoch);
		return;
	}
	if (op->ctx.drill) {
		action_done(op,
			    "drill: would scale to %" PRIu64 " replicas (now %lld) and store epoch "
			    "%llu (now %s); nothing changed",
			    a->replicas, a->was, (unsigned long long)op->ctx.epoch, stored);
		return;
	}
	if (a->has_epoch && a->stored == op->ctx.epoch) {
		action_outf(op, "epoch %llu already stored; ", (unsigned long long)op->ctx.epoch);
		k8s_scale(a);
		return;
	}
	k8s_annotate(a);
}

static void k8s_token_read(struct baton_action_op *op, const char *text, size_t len)
{
	struct k8s_attempt *a = (struct k8s_attempt *)op;

	if (len == 0 || strpbrk(text, "\r\n") != NULL) {
		action_fail(op, -EINVAL, false, "%s: token_file '%s' must hold one token on one line",
			    op->target, op->fs_path);
		return;
	}
	(void)snprintf(a->auth, sizeof(a->auth), "Authorization: Bearer %s", text);
	op->phase = "reading the object";
	k8s_call(a, "GET", a->url, NULL, k8s_got_cb);
}

/* --- start ----------------------------------------------------------------------------------- */

static void k8s_cleanup(struct baton_action_op *op)
{
	free(((struct k8s_attempt *)op)->body);
}

static int k8s_start(const struct baton_action_env *env, const struct baton_action_params *p,
		     const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		     struct baton_action_op **ret_op)
{
	struct k8s_attempt *a;
	struct baton_action_op *op;
	char err[256], api[BATON_ACTION_VALUE_LEN];
	size_t n;

	if (env == NULL || env->http == NULL)
		return -EINVAL;
	op = action_op_new(sizeof(*a), &baton_action_driver_kubernetes, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct k8s_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	op->cleanup_fn = k8s_cleanup;
	a->kind = action_param_or(&op->params, "kind", "deployment");
	a->ns = action_param_or(&op->params, "namespace", "?");
	a->name = action_param_or(&op->params, "name", "?");
	(void)snprintf(op->target, sizeof(op->target), "kubernetes %s %s/%s", a->kind, a->ns,
		       a->name);
	if (k8s_check(&op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	(void)action_parse_bool(action_param_or(&op->params, "insecure", "false"), &a->insecure);
	a->ca_file = baton_action_param(&op->params, "ca_file");
	(void)action_parse_u64(baton_action_param(&op->params, "replicas"), 0, 1000000,
			       &a->replicas);
	(void)snprintf(api, sizeof(api), "%s", baton_action_param(&op->params, "api"));
	n = strlen(api);
	while (n > 0 && api[n - 1] == '/')
		api[--n] = '\0';
	(void)snprintf(a->url, sizeof(a->url), "%s/apis/apps/v1/namespaces/%s/%s/%s", api, a->ns,
		       strcmp(a->kind, "statefulset") == 0 ? "statefulsets" : "deployments",
		       a->name);
	(void)snprintf(a->scale_url, sizeof(a->scale_url), "%s/scale", a->url);
	op->phase = "reading token_file";
	action_read_file(op, baton_action_param(&op->params, "token_file"), k8s_token_read);
	return 0;
}

const struct baton_action_driver baton_action_driver_kubernetes = {
	.name = "kubernetes",
	.idempotent = true,
	.validate = k8s_validate,
	.start = k8s_start,
	.cancel = action_cancel,
};
