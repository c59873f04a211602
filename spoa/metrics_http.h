/* metrics_http.h - the metrics listener: a minimal HTTP/1.x responder that
 * serves GET /metrics (Prometheus text format 0.0.4) and GET /healthz, and
 * 404 for anything else.
 *
 * It runs on its own thread and answers one connection at a time: a scrape
 * is rare and cheap, and a slow client is cut off after METRICS_HTTP_IO_TIMEOUT_MS.
 * Requests larger than METRICS_HTTP_MAX_REQUEST bytes get 431. The body of /metrics is
 * produced by the caller's render callback, called on the server thread (it
 * must be thread-safe). */
#ifndef OAUTH2_SPOA_METRICS_HTTP_H
#define OAUTH2_SPOA_METRICS_HTTP_H

#include <stddef.h>

#include "err.h"
#include "prom.h"

#define METRICS_HTTP_MAX_REQUEST   8192u /* request line + headers */
#define METRICS_HTTP_IO_TIMEOUT_MS 2000	 /* to read a request, and to write the answer */

enum metrics_http_target {
	METRICS_HTTP_METRICS = 0,
	METRICS_HTTP_HEALTHZ,
	METRICS_HTTP_NOT_FOUND,	  /* a GET of any other path */
	METRICS_HTTP_BAD_METHOD,  /* not GET or HEAD: 405 */
	METRICS_HTTP_BAD_REQUEST, /* not an HTTP/1.x request line: 400 */
};

/* Parses the request line at the start of <buf> (<len> bytes, not
 * necessarily NUL-terminated): "METHOD SP TARGET SP HTTP/1.x CRLF". Returns 1
 * with *out set when the line is complete, 0 when more bytes are needed, and
 * never fails otherwise (malformed lines give METRICS_HTTP_BAD_REQUEST). The query
 * string is ignored. *head is set for HEAD. Pure. */
int metrics_http_parse_request_line(const char *buf, size_t len, enum metrics_http_target *out,
				    int *head);

typedef void (*metrics_http_render_cb)(void *arg, struct prom_buf *b);

struct metrics_http_server;

/* Opens <addr> ("HOST:PORT") and starts the server thread. Returns NULL with
 * <e> filled when the address cannot be bound or the thread not started. */
struct metrics_http_server *metrics_http_start(const char *addr, metrics_http_render_cb render,
					       void *arg, struct err *e);

/* Stops the thread (within about 100 ms), closes the socket, frees <s>.
 * NULL is allowed. */
void metrics_http_stop(struct metrics_http_server *s);

#endif
