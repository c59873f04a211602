/* test_metrics_http.c - the metrics listener's request-line parser. */
#include <string.h>

#include "metrics_http.h"
#include "tap.h"

static void test_request_line(void)
{
	enum metrics_http_target t;
	int head;

#define RL(s) metrics_http_parse_request_line(s, strlen(s), &t, &head)
	is_int(RL("GET /metrics HTTP/1.1\r\n"), 1, "complete line");
	is_int(t, METRICS_HTTP_METRICS, "/metrics");
	is_int(RL("GET /metrics?x=1 HTTP/1.0\n"), 1, "query ignored");
	is_int(t, METRICS_HTTP_METRICS, "/metrics?x=1");
	is_int(RL("HEAD /healthz HTTP/1.1\r\n"), 1, "HEAD");
	ok(t == METRICS_HTTP_HEALTHZ && head, "HEAD /healthz");
	is_int(RL("GET /metricsx HTTP/1.1\r\n"), 1, "other path");
	is_int(t, METRICS_HTTP_NOT_FOUND, "/metricsx is 404");
	is_int(RL("GET / HTTP/1.1\r\n"), 1, "root");
	is_int(t, METRICS_HTTP_NOT_FOUND, "/ is 404");
	is_int(RL("POST /metrics HTTP/1.1\r\n"), 1, "POST");
	is_int(t, METRICS_HTTP_BAD_METHOD, "POST is 405");
	is_int(RL("GET /metrics HTTP/2.0\r\n"), 1, "HTTP/2");
	is_int(t, METRICS_HTTP_BAD_REQUEST, "HTTP/2.0 is 400");
	is_int(RL("GET http://x/metrics HTTP/1.1\r\n"), 1, "absolute form");
	is_int(t, METRICS_HTTP_BAD_REQUEST, "absolute form is 400");
	is_int(RL("GET /metrics\r\n"), 1, "HTTP/0.9");
	is_int(t, METRICS_HTTP_BAD_REQUEST, "no version is 400");
	is_int(RL("GET /metrics HTTP/1.1"), 0, "incomplete");
	is_int(RL(""), 0, "empty");
	is_int(RL("\r\n"), 1, "blank line");
	is_int(t, METRICS_HTTP_BAD_REQUEST, "blank line is 400");
#undef RL
}

int main(void)
{
	test_request_line();
	return done_testing("metrics_http");
}
