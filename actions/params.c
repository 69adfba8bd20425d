/* SPDX-License-Identifier: MIT */
/* Parameter checks shared by the drivers: key tables, numbers, booleans, URLs,
 * DNS names, and quoting a target's words in one bounded line. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

const char *baton_action_param(const struct baton_action_params *p, const char *key)
{
	if (p == NULL || key == NULL)
		return NULL;
	for (unsigned i = 0; i < p->n && i < BATON_ACTION_MAX_PARAMS; i++)
		if (strcmp(p->items[i].key, key) == 0)
			return p->items[i].value;
	return NULL;
}

const char *action_param_or(const struct baton_action_params *p, const char *key,
			    const char *def)
{
	const char *v = baton_action_param(p, key);

	return v != NULL ? v : def;
}

static const struct action_key *find_key(const struct action_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

int action_check_keys(const char *driver, const struct baton_action_params *p,
		      const struct action_key *keys, char *err, size_t errlen)
{
	if (p->n > BATON_ACTION_MAX_PARAMS) {
		(void)snprintf(err, errlen, "%s: %u parameters, at most %d", driver, p->n,
			       BATON_ACTION_MAX_PARAMS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < p->n; i++) {
		const char *k = p->items[i].key;

		if (memchr(k, '\0', sizeof(p->items[i].key)) == NULL ||
		    memchr(p->items[i].value, '\0', sizeof(p->items[i].value)) == NULL) {
			(void)snprintf(err, errlen, "%s: parameter %u is not NUL-terminated",
				       driver, i + 1);
			return -EINVAL;
		}
		if (find_key(keys, k) == NULL) {
			size_t off;

			off = (size_t)snprintf(err, errlen, "%s: unknown parameter '%s' (known:",
					       driver, k);
			for (const struct action_key *x = keys; x->name != NULL && off < errlen;
			     x++)
				off += (size_t)snprintf(err + off, errlen - off, "%s %s",
							x == keys ? "" : ",", x->name);
			if (off < errlen)
				(void)snprintf(err + off, errlen - off, ")");
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(p->items[j].key, k) == 0) {
				(void)snprintf(err, errlen, "%s: parameter '%s' given twice",
					       driver, k);
				return -EINVAL;
			}
		}
	}
	for (const struct action_key *x = keys; x->name != NULL; x++) {
		const char *v;

		if (!x->required)
			continue;
		v = baton_action_param(p, x->name);
		if (v == NULL) {
			(void)snprintf(err, errlen, "%s: missing parameter '%s'", driver,
				       x->name);
			return -EINVAL;
		}
		if (v[0] == '\0') {
			(void)snprintf(err, errlen, "%s: parameter '%s' is empty", driver,
				       x->name);
			return -EINVAL;
		}
	}
	return 0;
}

bool action_templated(const char *v)
{
	return v != NULL && strchr(v, '{') != NULL;
}

int action_parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t x = 0;

	if (v == NULL || *v == '\0' || strlen(v) > 20)
		return -EINVAL;
	for (const char *s = v; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x < min || x > max)
		return -ERANGE;
	*ret = x;
	return 0;
}

int action_parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "1", "on"};
	static const char *const no[] = {"false", "no", "0", "off"};

	if (v == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

void action_excerpt(char *dst, size_t n, const char *src, size_t len)
{
	size_t o = 0;
	bool space = false;

	if (n == 0)
		return;
	if (src == NULL)
		src = "";
	if (len == SIZE_MAX)
		len = strlen(src);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\0')
			break;
		if (isspace(c)) {
			space = o > 0;
			continue;
		}
		if (o + (space ? 2 : 1) + 3 >= n) {
			/* no room for this character and a "..." after it */
			if (o + 3 < n) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (space)
			dst[o++] = ' ';
		space = false;
		dst[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[o] = '\0';
}

bool action_url_ok(const char *url)
{
	if (url == NULL)
		return false;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return false;
	for (const char *s = url; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '"' || *s == '\'' ||
		    *s == '\\' || *s == '<' || *s == '>')
			return false;
	return url[strlen(url) - 1] != ':';
}

bool action_dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 254 || (len == 254 && name[253] != '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return false; /* empty label (leading or double dot) */
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

void action_fqdn(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	(void)snprintf(dst, n, "%s%s", src, len > 0 && src[len - 1] == '.' ? "" : ".");
}

bool action_name_in_zone(const char *fqdn, const char *zone)
{
	size_t n = strlen(fqdn), z = strlen(zone);

	if (n == z)
		return strcasecmp(fqdn, zone) == 0;
	return n > z && fqdn[n - z - 1] == '.' && strcasecmp(fqdn + n - z, zone) == 0;
}

void action_epoch_txt(char *dst, size_t n, uint64_t epoch, const char *region)
{
	char r[64];
	size_t i;

	/* a TXT string and a Route 53 value: keep the region to a safe alphabet */
	for (i = 0; region[i] != '\0' && i + 1 < sizeof(r); i++)
		r[i] = isalnum((unsigned char)region[i]) || region[i] == '-' || region[i] == '_' ||
				       region[i] == '.'
			       ? region[i]
			       : '_';
	r[i] = '\0';
	(void)snprintf(dst, n, "\"epoch=%llu region=%s\"", (unsigned long long)epoch,
		       r[0] != '\0' ? r : "-");
}

bool action_epoch_from_txt(const char *content, uint64_t *ret)
{
	const char *p = content;

	while ((p = strstr(p, "epoch=")) != NULL) {
		uint64_t x = 0;
		const char *d = p + 6;

		if ((p == content || p[-1] == '"' || p[-1] == ' ') && *d >= '0' && *d <= '9') {
			for (; *d >= '0' && *d <= '9'; d++) {
				if (x > (UINT64_MAX - 9) / 10)
					return false;
				x = x * 10 + (uint64_t)(*d - '0');
			}
			*ret = x;
			return true;
		}
		p += 6;
	}
	return false;
}

int action_check_records(const char *driver, const char *type, const char *list, char *err,
			 size_t errlen)
{
	char item[BATON_ACTION_VALUE_LEN];
	const char *s = list;
	int count = 0;

	if (strcmp(type, "A") != 0 && strcmp(type, "AAAA") != 0 && strcmp(type, "CNAME") != 0) {
		(void)snprintf(err, errlen, "%s: type '%s' is not A, AAAA or CNAME", driver, type);
		return -EINVAL;
	}
	for (;;) {
		size_t n = strcspn(s, ",");
		unsigned char addr[16];

		while (n > 0 && *s == ' ') {
			s++;
			n--;
		}
		if (n == 0 || n >= sizeof(item)) {
			(void)snprintf(err, errlen, "%s: empty record in '%s'", driver, list);
			return -EINVAL;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		while (n > 0 && item[n - 1] == ' ')
			item[--n] = '\0';
		count++;
		if ((strcmp(type, "A") == 0 && inet_pton(AF_INET, item, addr) != 1) ||
		    (strcmp(type, "AAAA") == 0 && inet_pton(AF_INET6, item, addr) != 1) ||
		    (strcmp(type, "CNAME") == 0 && !action_dns_name_ok(item))) {
			(void)snprintf(err, errlen, "%s: '%s' is not a valid %s record", driver, item,
				       type);
			return -EINVAL;
		}
		s += strcspn(s, ",");
		if (*s == '\0')
			break;
		s++;
	}
	if (strcmp(type, "CNAME") == 0 && count > 1) {
		(void)snprintf(err, errlen, "%s: a CNAME has exactly one target, got '%s'", driver,
			       list);
		return -EINVAL;
	}
	return 0;
}

int action_next_record(const char **cursor, char *dst, size_t n)
{
	const char *s = *cursor;
	size_t len;

	while (*s == ' ' || *s == ',')
		s++;
	if (*s == '\0')
		return 0;
	len = strcspn(s, ",");
	*cursor = s + len;
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 1;
}
