/*
 * agent/pg/scram.c: checks a stored SCRAM-SHA-256 verifier against a password.
 */
#include "pg/scram.h"

#include "base/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_KEY_LEN SHA256_DIGEST_LENGTH

/* Decodes base64 into out (at most out_cap bytes); returns the length or -1. */
static int base64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap)
{
	unsigned char *buf;
	int n, pad = 0;

	if (in_len == 0 || in_len % 4 != 0)
		return -1;
	buf = xmalloc(in_len / 4 * 3 + 1);
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)in_len);
	if (n >= 0) {
		pad = (in[in_len - 1] == '=') + (in[in_len - 2] == '=');
		n -= pad;
		if ((size_t)n > out_cap)
			n = -1;
		else
			memcpy(out, buf, (size_t)n);
	}
	free(buf);
	return n;
}

static bool hmac_sha256(const unsigned char *key, size_t key_len, const char *msg,
			unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;

	return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg),
		    out, &len) != NULL &&
	       len == SCRAM_KEY_LEN;
}

bool scram_verifier_matches(const char *verifier, const char *password)
{
	static const char prefix[] = "SCRAM-SHA-256$";
	unsigned char salt[128], stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
	unsigned char want_stored[SCRAM_KEY_LEN], want_server[SCRAM_KEY_LEN];
	const char *iter_s, *salt_s, *keys_s, *server_s;
	char *end;
	long iterations;
	int salt_len;
	bool match;

	if (!verifier || strncmp(verifier, prefix, strlen(prefix)) != 0)
		return false;
	iter_s = verifier + strlen(prefix);
	iterations = strtol(iter_s, &end, 10);
	if (*end != ':' || iterations <= 0 || iterations > 100000000)
		return false;
	salt_s = end + 1;
	keys_s = strchr(salt_s, '$');
	if (!keys_s)
		return false;
	server_s = strchr(keys_s + 1, ':');
	if (!server_s)
		return false;
	salt_len = base64_decode(salt_s, (size_t)(keys_s - salt_s), salt, sizeof(salt));
	if (salt_len <= 0 ||
	    base64_decode(keys_s + 1, (size_t)(server_s - keys_s - 1), stored, sizeof(stored)) !=
		    SCRAM_KEY_LEN ||
	    base64_decode(server_s + 1, strlen(server_s + 1), server, sizeof(server)) !=
		    SCRAM_KEY_LEN)
		return false;

	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, salt_len, (int)iterations,
			       EVP_sha256(), SCRAM_KEY_LEN, salted) ||
	    !hmac_sha256(salted, sizeof(salted), "Client Key", client_key) ||
	    !SHA256(client_key, sizeof(client_key), want_stored) ||
	    !hmac_sha256(salted, sizeof(salted), "Server Key", want_server))
		return false;
	match = CRYPTO_memcmp(stored, want_stored, SCRAM_KEY_LEN) == 0 &&
		CRYPTO_memcmp(server, want_server, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return match;
}
