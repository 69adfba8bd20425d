/* SPDX-License-Identifier: MIT */
/* batonctl's operator key file (see opkey.h): generate, write once, load and check. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "opkey.h"

#define OPKEY_MAX_FILE 4096

int baton_cli_opkey_generate(const char *name, struct baton_cli_opkey *ret)
{
	if (sodium_init() < 0)
		return -EIO;
	memset(ret, 0, sizeof *ret);
	if (crypto_sign_keypair(ret->pk, ret->sk) != 0)
		return -EIO;
	baton_opkey_id(ret->pk, ret->key_id);
	snprintf(ret->name, sizeof ret->name, "%s", name);
	return 0;
}

int baton_cli_opkey_write(const char *path, const struct baton_cli_opkey *k, char *err, size_t errlen)
{
	char pk_hex[65], sk_hex[129], buf[1024];
	int fd, n, rv = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		if (rv == -EEXIST)
			snprintf(err, errlen, "'%s' exists: batonctl never overwrites a key file (choose another --out)",
				 path);
		else
			snprintf(err, errlen, "cannot create '%s': %s", path, strerror(-rv));
		return rv;
	}
	sodium_bin2hex(pk_hex, sizeof pk_hex, k->pk, sizeof k->pk);
	sodium_bin2hex(sk_hex, sizeof sk_hex, k->sk, sizeof k->sk);
	n = snprintf(buf, sizeof buf,
		     "# baton operator key (SECRET). Keep it mode 0600; never share or commit it.\n"
		     "# Authorize it with its public key under cluster.operators (batonctl keygen printed the entry).\n"
		     "format: %s\n"
		     "name: %s\n"
		     "key_id: %s\n"
		     "public_key: %s\n"
		     "secret_key: %s\n",
		     BATON_CLI_OPKEY_FORMAT, k->name, k->key_id, pk_hex, sk_hex);
	sodium_memzero(sk_hex, sizeof sk_hex);
	/* umask can only take bits away; say 0600 explicitly anyway. */
	if (fchmod(fd, 0600) != 0 || write(fd, buf, (size_t)n) != n || fsync(fd) != 0) {
		rv = -errno;
		if (rv == 0)
			rv = -EIO;
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(-rv));
	}
	sodium_memzero(buf, sizeof buf);
	if (close(fd) != 0 && rv == 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(-rv));
	}
	if (rv != 0)
		(void)unlink(path);
	return rv;
}

/* @hex must be exactly 2*len hex digits. */
static bool opkey_hex(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;

	return strlen(hex) == 2 * len && sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, NULL) == 0 && got == len;
}

static int opkey_bad(char *err, size_t errlen, const char *path, unsigned line, const char *what)
{
	if (line > 0)
		snprintf(err, errlen, "key file '%s' line %u: %s", path, line, what);
	else
		snprintf(err, errlen, "key file '%s': %s", path, what);
	return -EINVAL;
}

/* Parse the text in @buf (NUL-terminated) into @k. */
static int opkey_parse(const char *path, char *buf, struct baton_cli_opkey *k, char *err, size_t errlen)
{
	enum { F_FORMAT, F_NAME, F_KEY_ID, F_PUBLIC, F_SECRET, F_NR };
	static const char *const fields[F_NR] = {"format", "name", "key_id", "public_key", "secret_key"};
	unsigned seen = 0, line = 0;
	uint8_t derived_pk[32], derived_sk[64];
	char *next, msg[160], id[BATON_OPKEY_ID_LEN];

	for (char *l = buf; l != NULL; l = next) {
		char *colon, *v;
		size_t len;
		int f;

		next = strchr(l, '\n');
		if (next != NULL)
			*next++ = '\0';
		line++;
		len = strlen(l);
		while (len > 0 && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t'))
			l[--len] = '\0';
		l += strspn(l, " \t");
		if (l[0] == '\0' || l[0] == '#')
			continue;
		colon = strchr(l, ':');
		if (colon == NULL)
			return opkey_bad(err, errlen, path, line, "expected 'field: value'");
		*colon = '\0';
		v = colon + 1 + strspn(colon + 1, " \t");
		for (f = 0; f < F_NR && strcmp(l, fields[f]) != 0; f++)
			;
		if (f == F_NR) {
			snprintf(msg, sizeof msg, "unknown field '%.40s'", l);
			return opkey_bad(err, errlen, path, line, msg);
		}
		if (seen & (1u << f)) {
			snprintf(msg, sizeof msg, "field '%s' appears twice", fields[f]);
			return opkey_bad(err, errlen, path, line, msg);
		}
		seen |= 1u << f;
		switch (f) {
		case F_FORMAT:
			if (strcmp(v, BATON_CLI_OPKEY_FORMAT) != 0) {
				snprintf(msg, sizeof msg, "format '%.40s' is not '%s'", v, BATON_CLI_OPKEY_FORMAT);
				return opkey_bad(err, errlen, path, line, msg);
			}
			break;
		case F_NAME:
			if (v[0] == '\0' || strlen(v) >= sizeof k->name)
				return opkey_bad(err, errlen, path, line, "name must be 1..63 characters");
			snprintf(k->name, sizeof k->name, "%s", v);
			break;
		case F_KEY_ID:
			if (strlen(v) != BATON_OPKEY_ID_LEN - 1)
				return opkey_bad(err, errlen, path, line, "key_id must be 16 hex characters");
			snprintf(k->key_id, sizeof k->key_id, "%s", v);
			break;
		case F_PUBLIC:
			if (!opkey_hex(v, k->pk, sizeof k->pk))
				return opkey_bad(err, errlen, path, line, "public_key must be 64 hex characters");
			break;
		case F_SECRET:
			if (!opkey_hex(v, k->sk, sizeof k->sk))
				return opkey_bad(err, errlen, path, line, "secret_key must be 128 hex characters");
			break;
		}
	}
	for (int f = 0; f < F_NR; f++)
		if (!(seen & (1u << f))) {
			snprintf(msg, sizeof msg, "field '%s' is missing (is this a batonctl key file?)", fields[f]);
			return opkey_bad(err, errlen, path, 0, msg);
		}
	/* The secret key must be the one of this public key, and the id the id of it. */
	if (crypto_sign_seed_keypair(derived_pk, derived_sk, k->sk) != 0 ||
	    sodium_memcmp(derived_pk, k->pk, sizeof derived_pk) != 0 ||
	    sodium_memcmp(derived_sk, k->sk, sizeof derived_sk) != 0) {
		sodium_memzero(derived_sk, sizeof derived_sk);
		return opkey_bad(err, errlen, path, 0, "secret_key does not belong to public_key (damaged or edited file)");
	}
	sodium_memzero(derived_sk, sizeof derived_sk);
	baton_opkey_id(k->pk, id);
	if (strcmp(id, k->key_id) != 0) {
		snprintf(msg, sizeof msg, "key_id %s is not the id of public_key (%s)", k->key_id, id);
		return opkey_bad(err, errlen, path, 0, msg);
	}
	return 0;
}

int baton_cli_opkey_load(const char *path, struct baton_cli_opkey *ret, char *err, size_t errlen)
{
	char buf[OPKEY_MAX_FILE + 1];
	struct baton_cli_opkey k;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rv;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot read key file '%s': %s", path, strerror(-rv));
		return rv;
	}
	/* Check the file we opened, not the name (it could be replaced in between). */
	if (fstat(fd, &st) != 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot read key file '%s': %s", path, strerror(-rv));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file '%s' is not a regular file", path);
		rv = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "key file '%s' is accessible by %s (mode %04o): a signing key must be readable by its owner "
			 "only. Fix it with: chmod 600 %s",
			 path, (st.st_mode & 070) && (st.st_mode & 07) ? "group and others" : (st.st_mode & 070) ? "its group" : "others",
			 (unsigned)(st.st_mode & 07777), path);
		rv = -EPERM;
		goto out;
	}
	while (len < sizeof buf - 1) {
		n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = -errno;
			snprintf(err, errlen, "cannot read key file '%s': %s", path, strerror(-rv));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == sizeof buf - 1) {
		snprintf(err, errlen, "key file '%s' is larger than %d bytes: not a batonctl key file", path,
			 OPKEY_MAX_FILE);
		rv = -EINVAL;
		goto out;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		rv = opkey_bad(err, errlen, path, 0, "binary data: not a batonctl key file");
		goto out;
	}
	memset(&k, 0, sizeof k);
	rv = opkey_parse(path, buf, &k, err, errlen);
	if (rv == 0)
		*ret = k;
	sodium_memzero(&k, sizeof k);
out:
	sodium_memzero(buf, sizeof buf);
	(void)close(fd);
	return rv;
}
