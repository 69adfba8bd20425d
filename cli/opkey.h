/* SPDX-License-Identifier: MIT */
/* batonctl's operator key file: an Ed25519 key pair in a small text file.
 *
 *   # baton operator key (secret) ...        comments and blank lines are ignored
 *   format: baton-operator-key-1
 *   name: alice                                [a-z0-9-], 1..63 chars, as in cluster.operators
 *   key_id: 3f1c0a9be2d47750                   baton_opkey_id(public_key)
 *   public_key: <64 hex>                       the 32-byte Ed25519 public key
 *   secret_key: <128 hex>                      libsodium's 64-byte secret key (seed || public key)
 *
 * Every field is required, each once, in any order; unknown fields are an
 * error. On load the public key is derived again from the seed and must equal
 * both public_key and the secret key's second half, and key_id must be the id
 * of that public key, so a hand-edited or truncated file is refused rather than
 * used to sign with the wrong key. The file must be a regular file with no
 * group or other permission bits (mode & 077 == 0). */
#ifndef BATON_CLI_OPKEY_H
#define BATON_CLI_OPKEY_H

#include <stddef.h>
#include <stdint.h>

#include "opcmd.h"

#define BATON_CLI_OPKEY_FORMAT "baton-operator-key-1"
#define BATON_CLI_OPKEY_NAME_LEN 64

struct baton_cli_opkey {
	char name[BATON_CLI_OPKEY_NAME_LEN];
	char key_id[BATON_OPKEY_ID_LEN];
	uint8_t pk[32];
	uint8_t sk[64];
};

/* A new random key pair named @name (not checked here). Returns 0 or -EIO. */
int baton_cli_opkey_generate(const char *name, struct baton_cli_opkey *ret);

/* Create @path (O_CREAT|O_EXCL, mode 0600, never overwriting) holding @k.
 * Returns 0, or < 0 (-EEXIST if the file exists) with a sentence naming the
 * file in @err. A partly written file is removed. */
int baton_cli_opkey_write(const char *path, const struct baton_cli_opkey *k, char *err, size_t errlen);

/* Read and check @path. Returns 0 and fills @ret, or < 0 with a sentence in
 * @err that names the file and says what to do: -ENOENT/-EACCES (cannot be
 * read), -EPERM (group/world-accessible: "chmod 600 FILE"), -EINVAL (not a
 * key file, with the line). The caller wipes @ret with sodium_memzero(). */
int baton_cli_opkey_load(const char *path, struct baton_cli_opkey *ret, char *err, size_t errlen);

#endif
