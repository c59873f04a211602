/* test_stats.c - metric labels: endpoint URLs without secrets (stats.h),
 * Prometheus label escaping (prom.h) and shadow reason names (reason.h). */
#include <string.h>

#include "prom.h"
#include "reason.h"
#include "stats.h"
#include "tap.h"

static void test_labels(void)
{
	char out[STATS_LABEL_MAX];
	struct prom_buf b = {0};

	stats_endpoint_label("https://user:pw@idp.example:8443/oauth2/introspect?x=secret#f", out,
			     sizeof(out));
	is_str(out, "https://idp.example:8443/oauth2/introspect", "userinfo, query, fragment gone");
	stats_endpoint_label("http://h/p", out, sizeof(out));
	is_str(out, "http://h/p", "plain URL unchanged");
	stats_endpoint_label("http://h?q@x", out, sizeof(out));
	is_str(out, "http://h", "an '@' in the query is not userinfo");
	stats_endpoint_label("http://a@b@h/p", out, 10);
	is_str(out, "http://h/", "truncated, NUL-terminated");
	prom_label(&b, "a\"b\\c\nd");
	is_str(b.p, "a\\\"b\\\\c\\nd", "label escaping");
	prom_free(&b);
	is_str(reason_shadow_name(AUTHZ_INSUFFICIENT_SCOPE), "shadow:insufficient_scope",
	       "shadow reason");
	is_str(reason_shadow_name((enum authz_reason)99), "shadow:unknown", "shadow unknown");
}

int main(void)
{
	test_labels();
	return done_testing("stats");
}
