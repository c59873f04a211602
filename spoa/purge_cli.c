/* purge_cli.c - see purge_cli.h. */
#include "purge_cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 16384

static int usage(void)
{
	fprintf(stderr, "usage: oauth2-spoa purge --admin HOST:PORT|unix:/PATH "
			"[--admin-token-file FILE]\n"
			"                         (--sub S | --client-id C | --token-file FILE|- | "
			"--all)\n");
	return 2;
}

/* One line from <path> ("-": stdin) into buf; returns its length or -1. */
static long read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	if (f != stdin)
		fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n && !memchr(buf, '\n', n) ? (long)n : -1;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)arg;
	fwrite(p, sz, n, stdout);
	return sz * n;
}

/* POSTs <body> to the listener; returns the HTTP status or -1. */
static long post(const char *admin, const char *bearer, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], auth[SECRET_MAX + 32];
	long code = -1;

	if (!c)
		return -1;
	if (!strncmp(admin, "unix:", 5)) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, admin + 5);
		snprintf(url, sizeof(url), "http://localhost/purge");
	} else {
		snprintf(url, sizeof(url), "http://%s/purge", admin);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		h = curl_slist_append(h, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return code;
}

int purge_cli_main(int argc, char **argv)
{
	static const struct option opts[] = {{"admin", required_argument, NULL, 'a'},
					     {"admin-token-file", required_argument, NULL, 'k'},
					     {"sub", required_argument, NULL, 's'},
					     {"client-id", required_argument, NULL, 'c'},
					     {"token-file", required_argument, NULL, 't'},
					     {"all", no_argument, NULL, 'A'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *admin = NULL, *keyfile = NULL, *what = NULL, *val = NULL;
	static char bearer[SECRET_MAX], token[SECRET_MAX];
	json_t *j = NULL;
	char *body;
	long code;
	int o, n = 0;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			admin = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 's':
			what = "sub", val = optarg, n++;
			break;
		case 'c':
			what = "client_id", val = optarg, n++;
			break;
		case 't':
			what = "token", val = optarg, n++;
			break;
		case 'A':
			what = "all", n++;
			break;
		case 'h':
			usage();
			return 0;
		default:
			return usage();
		}
	}
	if (!admin || n != 1 || optind != argc)
		return usage();
	if (keyfile && read_line(keyfile, bearer, sizeof(bearer)) < 0) {
		fprintf(stderr, "oauth2-spoa purge: cannot read one line from %s\n", keyfile);
		return 2;
	}
	if (!strcmp(what, "token")) {
		if (read_line(val, token, sizeof(token)) < 0) {
			fprintf(stderr, "oauth2-spoa purge: cannot read the token from %s\n", val);
			return 2;
		}
		val = token;
	}
	j = strcmp(what, "all") ? json_pack("{s:s}", what, val) : json_pack("{s:b}", "all", 1);
	body = j ? json_dumps(j, 0) : NULL;
	json_decref(j);
	if (!body)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	code = post(admin, keyfile ? bearer : NULL, body);
	curl_global_cleanup();
	explicit_bzero(body, strlen(body));
	free(body);
	explicit_bzero(token, sizeof(token));
	explicit_bzero(bearer, sizeof(bearer));
	if (code != 200) {
		fprintf(stderr, "oauth2-spoa purge: %s\n",
			code < 0 ? "no answer from the admin listener" : "refused");
		if (code > 0)
			fprintf(stderr, "oauth2-spoa purge: HTTP status %ld\n", code);
		return 1;
	}
	return 0;
}
