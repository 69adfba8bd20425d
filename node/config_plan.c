/* SPDX-License-Identifier: MIT */
/* The checks of plan steps that span keys (config.c's loader runs them after
 * the table): the failover plan, and each region's self_fence and rejoin.
 *
 * Per list: step names unique; the driver exists and accepts the parameters
 * (its validate()); attempt_timeout_ms <= timeout_ms; every {...} template
 * is one that list can expand, and every region defines the {from,to,self}.VAR
 * it names; after: names steps of the same list and the steps form a DAG
 * (self-fence steps run in order and have no after:). */
#include "node/config_plan.h"

#include "actions/action.h"
#include "lib/util.h"

#include <inttypes.h>
#include <string.h>

#define CFG_PATH_LEN 256 /* display paths: "cluster.regions[3].self_fence[1]" */

bool baton_template_ref(const char *p, size_t *ret_len)
{
	size_t n = 0;

	if (*p != '{')
		return false;
	for (p++; (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'; p++)
		n++;
	if (*p != '}' || n == 0 || n >= 80)
		return false;
	*ret_len = n;
	return true;
}

const char *baton_kv_get(const struct baton_kv_list *l, const char *key)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->items[i].key, key) == 0)
			return l->items[i].value;
	return NULL;
}

/* The line of @key in the step at document path @step ("cluster.regions[1].unfence[0]"):
 * exact for nested lists too, where the key table keeps one line per index. */
static unsigned step_line(const struct baton_conf *x, const char *step, const char *key)
{
	char p[CFG_PATH_LEN + 32];

	snprintf(p, sizeof p, "%s.%s", step, key);
	return baton_conf_doc_line(x, p);
}

/* Check every {...} reference in a step's parameters. */
static int cfg_check_templates(struct baton_conf *x, const struct baton_cluster_config *c,
			       const struct baton_step_config *st, const char *path, bool self_fence)
{
	static const char *const plain[] = {"from", "to", "epoch", "group", "step", "drill"};

	for (unsigned i = 0; i < st->params.n; i++) {
		const char *v = st->params.items[i].value;
		for (const char *o = strchr(v, '{'); o != NULL; o = strchr(o + 1, '{')) {
			char ref[80];
			size_t len;
			bool ok = false;
			/* Only {ident} and {scope.ident} are templates; any other brace
			 * (a JSON body, say) is literal text. */
			if (!baton_template_ref(o, &len))
				continue;
			memcpy(ref, o + 1, len);
			ref[len] = '\0';
			for (size_t k = 0; k < BATON_ARRAY_SIZE(plain); k++)
				ok = ok || strcmp(ref, plain[k]) == 0;
			const char *dot = strchr(ref, '.');
			if (!ok && dot != NULL) {
				size_t scope = (size_t)(dot - ref);
				bool known_scope = (!self_fence && ((scope == 4 && strncmp(ref, "from", 4) == 0) ||
								    (scope == 2 && strncmp(ref, "to", 2) == 0))) ||
						   (self_fence && scope == 4 && strncmp(ref, "self", 4) == 0);
				if (!known_scope)
					return baton_conf_fail(x, step_line(x, path, "params"), path,
							"parameter '%s': {%s} is not available here (%s)", st->params.items[i].key,
							ref, self_fence ? "self_fence and unfence steps use {self.VAR}" : "plans use {from.VAR} and {to.VAR}");
				/* Every region must define the var: any region can be from or to. */
				for (unsigned r = 0; r < c->n_regions; r++)
					if (baton_kv_get(&c->regions[r].vars, dot + 1) == NULL)
						return baton_conf_fail(x, step_line(x, path, "params"), path,
								"parameter '%s' uses {%s} but region '%s' has no vars.%s",
								st->params.items[i].key, ref, c->regions[r].name, dot + 1);
				ok = true;
			}
			if (!ok)
				return baton_conf_fail(x, step_line(x, path, "params"), path,
						"parameter '%s': unknown reference {%s}", st->params.items[i].key, ref);
		}
	}
	return 0;
}

static int cfg_check_steps(struct baton_conf *x, const struct baton_cluster_config *c,
			   const struct baton_step_config *steps, unsigned n, const char *list, bool self_fence)
{
	/* deps[i] bit j: step i runs after step j */
	uint32_t deps[BATON_MAX_PLAN_STEPS] = {0};
	char path[CFG_PATH_LEN], err[256];
	int rv;

	for (unsigned i = 0; i < n; i++) {
		const struct baton_step_config *st = &steps[i];
		const struct baton_action_driver *drv = baton_action_driver(st->driver);
		struct baton_action_params ap;

		snprintf(path, sizeof path, "%s[%u]", list, i);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(steps[j].name, st->name) == 0)
				return baton_conf_fail(x, step_line(x, path, "name"), path,
						"step name '%s' is used twice", st->name);
		if (drv == NULL)
			return baton_conf_fail(x, step_line(x, path, "driver"), path,
					"unknown driver '%s' (known: %s)", st->driver, baton_action_driver_names());
		memset(&ap, 0, sizeof ap);
		for (unsigned k = 0; k < st->params.n && k < BATON_ACTION_MAX_PARAMS; k++) {
			baton_strlcpy(ap.items[k].key, st->params.items[k].key, sizeof ap.items[k].key);
			baton_strlcpy(ap.items[k].value, st->params.items[k].value, sizeof ap.items[k].value);
			ap.n++;
		}
		if (drv->validate != NULL && (rv = drv->validate(&ap, err, sizeof err)) != 0)
			return baton_conf_fail(x, step_line(x, path, "params"), path, "%s: %s", st->driver, err);
		if (st->attempt_timeout_ms > st->timeout_ms)
			return baton_conf_fail(x, step_line(x, path, "attempt_timeout_ms"), path,
					"attempt_timeout_ms (%" PRIu64 ") exceeds timeout_ms (%" PRIu64 ")",
					st->attempt_timeout_ms, st->timeout_ms);
		rv = cfg_check_templates(x, c, st, path, self_fence);
		if (rv != 0)
			return rv;
		/* after: */
		char buf[BATON_KV_VALUE_LEN], *save = NULL;
		baton_strlcpy(buf, st->after, sizeof buf);
		for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
			unsigned j;
			for (j = 0; j < n; j++)
				if (strcmp(steps[j].name, tok) == 0)
					break;
			if (j == n)
				return baton_conf_fail(x, step_line(x, path, "after"), path,
						"after: '%s' is not a step of this list", tok);
			if (j == i)
				return baton_conf_fail(x, step_line(x, path, "after"), path, "a step cannot wait for itself");
			deps[i] |= 1u << j;
		}
	}
	/* A DAG: repeatedly remove steps whose dependencies are all removed. */
	uint32_t done = 0;
	for (unsigned round = 0; round < n; round++)
		for (unsigned i = 0; i < n; i++)
			if (!(done & (1u << i)) && (deps[i] & ~done) == 0)
				done |= 1u << i;
	for (unsigned i = 0; i < n; i++)
		if (!(done & (1u << i))) {
			snprintf(path, sizeof path, "%s[%u]", list, i);
			return baton_conf_fail(x, step_line(x, path, "after"), path,
					"step '%s' is part of a dependency cycle", steps[i].name);
		}
	if (self_fence && n > 0)
		for (unsigned i = 0; i < n; i++)
			if (steps[i].after[0] != '\0') {
				snprintf(path, sizeof path, "%s[%u]", list, i);
				return baton_conf_fail(x, step_line(x, path, "after"), path,
						"self_fence and unfence steps run in order; after: is not used there");
			}
	return 0;
}

int baton_config_check_plans(struct baton_conf *x, const struct baton_cluster_config *c)
{
	char list[CFG_PATH_LEN];
	int rv = cfg_check_steps(x, c, c->plan, c->n_plan, "cluster.plan", false);

	for (unsigned r = 0; rv == 0 && r < c->n_regions; r++) {
		snprintf(list, sizeof list, "cluster.regions[%u].self_fence", r);
		rv = cfg_check_steps(x, c, c->regions[r].self_fence, c->regions[r].n_self_fence, list, true);
		if (rv == 0) {
			snprintf(list, sizeof list, "cluster.regions[%u].unfence", r);
			rv = cfg_check_steps(x, c, c->regions[r].unfence, c->regions[r].n_unfence, list, true);
		}
		/* An unfence step starts only with its whole timeout of lease left (node/exec.c);
		 * after a renewal about ttl - a round trip is left, so more than half the ttl
		 * could never start. */
		for (unsigned i = 0; rv == 0 && i < c->regions[r].n_unfence; i++)
			if (c->regions[r].unfence[i].timeout_ms > c->lease.ttl_ms / 2) {
				char path[CFG_PATH_LEN];
				snprintf(path, sizeof path, "cluster.regions[%u].unfence[%u]", r, i);
				rv = baton_conf_fail(x, step_line(x, path, "timeout_ms"), path,
						     "timeout_ms %llu is more than half of cluster.lease.ttl_ms (%llu): an "
						     "unfence step must finish inside the lease it starts in",
						     (unsigned long long)c->regions[r].unfence[i].timeout_ms,
						     (unsigned long long)c->lease.ttl_ms);
			}
		if (rv == 0) {
			snprintf(list, sizeof list, "cluster.regions[%u].rejoin", r);
			rv = cfg_check_steps(x, c, c->regions[r].rejoin, c->regions[r].n_rejoin, list, false);
		}
	}
	return rv;
}
