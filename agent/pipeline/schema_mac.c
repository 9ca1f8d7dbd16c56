/*
 * agent/pipeline/schema_mac.c: the pipeline's schema key and the header macs.
 */
#include "pipeline/schema_mac.h"

#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES 32
#define MAC_BYTES 32

struct schema_mac {
	unsigned char key[KEY_BYTES];
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2*n lowercase hex digits, an optional newline. */
static bool hex_decode(const char *text, size_t len, unsigned char *b, size_t n)
{
	if (len == 2 * n + 1 && text[2 * n] == '\n')
		len--;
	if (len != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* Reads the key file; *exists false when there is none. */
static bool key_read(const char *path, struct schema_mac *m, bool *exists)
{
	char text[2 * KEY_BYTES + 2];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*exists = fd >= 0;
	if (fd < 0 && errno == ENOENT)
		return true;
	if (fd < 0) {
		log_error("schema key %s: %s%s", path, strerror(errno),
			  errno == ELOOP ? " (a symbolic link: refused)" : "");
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		log_error("schema key %s: refused: it must be a regular file of uid %u, mode 0600",
			  path, (unsigned)geteuid());
		close(fd);
		return false;
	}
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || !hex_decode(text, (size_t)n, m->key, KEY_BYTES)) {
		log_error("schema key %s: not %d hex digits (remove it to make a new one: records on Kafka signed with the old key then stop apply)",
			  path, 2 * KEY_BYTES);
		OPENSSL_cleanse(text, sizeof(text));
		return false;
	}
	OPENSSL_cleanse(text, sizeof(text));
	return true;
}

/* Makes the key: a private temp file linked to its name, so a reader never
 * sees a part and of two makers the first wins (the other reads it). */
static bool key_make(const char *path)
{
	unsigned char raw[KEY_BYTES];
	char text[2 * KEY_BYTES + 2];
	char *tmp = xasprintf("%s.XXXXXX", path);
	bool ok;
	int fd = mkstemp(tmp);

	if (fd < 0) {
		log_error("schema key %s: cannot create a temporary file: %s", path, strerror(errno));
		free(tmp);
		return false;
	}
	ok = getrandom(raw, sizeof(raw), 0) == (ssize_t)sizeof(raw);
	hex_encode(raw, KEY_BYTES, text);
	strcat(text, "\n");
	ok = ok && fchmod(fd, 0600) == 0 &&
	     write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && link(tmp, path) != 0 && errno != EEXIST)
		ok = false;
	if (!ok)
		log_error("schema key %s: cannot write it: %s", path, strerror(errno));
	unlink(tmp);
	free(tmp);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(text, sizeof(text));
	return ok;
}

bool schema_mac_open(const char *state_dir, const char *pipeline, struct schema_mac **out)
{
	char *path = xasprintf("%s/schema-%s.key", state_dir, pipeline);
	struct schema_mac *m = xcalloc(1, sizeof(*m));
	bool exists = false;
	bool ok = key_read(path, m, &exists);

	if (ok && !exists)
		ok = key_make(path) && key_read(path, m, &exists);
	if (ok && !exists) {
		log_error("schema key %s: vanished after it was made", path);
		ok = false;
	}
	free(path);
	if (!ok) {
		schema_mac_free(m);
		return false;
	}
	*out = m;
	return true;
}

void schema_mac_free(struct schema_mac *m)
{
	if (!m)
		return;
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

static void mac_compute(const struct schema_mac *m, const char *topic, const char *text,
			size_t len, unsigned char *mac)
{
	size_t tl = strlen(topic);
	unsigned char *msg = xmalloc(tl + 1 + len);
	unsigned int n = MAC_BYTES;

	memcpy(msg, topic, tl);
	msg[tl] = '\n';
	memcpy(msg + tl + 1, text, len);
	if (!HMAC(EVP_sha256(), m->key, KEY_BYTES, msg, tl + 1 + len, mac, &n)) {
		log_error("HMAC-SHA256 failed");
		abort();
	}
	free(msg);
}

char *schema_mac_sign(const struct schema_mac *m, const char *topic, const char *text,
		      size_t len)
{
	unsigned char mac[MAC_BYTES];
	char *hex = xmalloc(2 * MAC_BYTES + 1);

	mac_compute(m, topic, text, len, mac);
	hex_encode(mac, MAC_BYTES, hex);
	return hex;
}

bool schema_mac_verify(const struct schema_mac *m, const char *topic, const char *text,
		       size_t len, const char *mac, size_t mac_len)
{
	unsigned char want[MAC_BYTES], have[MAC_BYTES];

	if (!hex_decode(mac, mac_len, have, MAC_BYTES))
		return false;
	mac_compute(m, topic, text, len, want);
	return CRYPTO_memcmp(want, have, MAC_BYTES) == 0;
}
