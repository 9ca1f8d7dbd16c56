/*
 * agent/status/status_fetch.c: the running agent's status document over HTTP.
 */
#include "status/status_fetch.h"

#include "base/util.h"

#include <curl/curl.h>

#define FETCH_TIMEOUT_MS 3000
#define FETCH_MAX_BYTES (16 << 20)

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct strbuf *sb = arg;

	if (sb->len + size * n > FETCH_MAX_BYTES)
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	strbuf_add(sb, data, size * n);
	return size * n;
}

json_t *status_fetch(const char *listen)
{
	CURL *curl = curl_easy_init();
	char *url = xasprintf("http://%s/status", listen);
	struct strbuf body;
	long code = 0;
	json_t *doc = NULL;

	strbuf_init(&body);
	if (curl) {
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)FETCH_TIMEOUT_MS);
		curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
		if (curl_easy_perform(curl) == CURLE_OK &&
		    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
			doc = json_loadb(body.data, body.len, 0, NULL);
		curl_easy_cleanup(curl);
	}
	if (doc && !json_is_object(json_object_get(doc, "agent"))) {
		json_decref(doc);
		doc = NULL;
	}
	strbuf_fini(&body);
	free(url);
	return doc;
}
