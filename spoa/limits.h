/* limits.h - every bound the agent enforces, in one place.
 *
 * Each growth in the agent (buffers, queues, tables, caches) is capped by a
 * constant here or by a configuration value whose default and ceiling are
 * here. A reviewer should be able to compute the worst-case memory from this
 * file alone. */
#ifndef OAUTH2_SPOA_LIMITS_H
#define OAUTH2_SPOA_LIMITS_H

/* SPOP frame sizes (bytes of the LENGTH field, i.e. without its 4-byte prefix). */
/* SPOP_DEFAULT_FRAME_SIZE is what HAProxy 2.6-3.4 announce with the shipped
 * tune.bufsize 32768 (size - 4): 3.1+ cannot fragment a NOTIFY, so one frame
 * must hold a maxTokenLength token whole. */
#define SPOP_MIN_FRAME_SIZE	256u   /* spec: max-frame-size must be >= 256 */
#define SPOP_DEFAULT_FRAME_SIZE 32764u /* see above */
#define SPOP_MAX_FRAME_SIZE	65532u /* our ceiling for --max-frame-size */
#define SPOP_HELLO_MAX		2048u  /* a frame before the handshake; HAProxy's is ~130 */

/* Reassembly of fragmented NOTIFY payloads (HAProxy 2.6-3.0). */
#define SPOP_REASSEMBLY_MAX (64u * 1024u)

/* Per connection. */
#define CONN_MAX_INFLIGHT      256u	      /* NOTIFYs being decided; HAProxy sends <= 20 */
#define CONN_WBUF_MAX	       (256u * 1024u) /* queued output before we stop reading */
#define CONN_IDLE_TIMEOUT_S    300.0	      /* no frame for this long: DISCONNECT 2 */
#define CONN_HELLO_TIMEOUT_S   10.0	      /* connected but no HELLO */
#define CONN_PARTIAL_TIMEOUT_S 30.0	      /* a frame started but not finished */
#define CONN_WRITE_TIMEOUT_S   30.0	      /* output pending, no progress */

/* Per worker and per process. */
#define WORKER_MAX_CONNS       16384u
#define AGENT_MAX_THREADS      64u
#define AGENT_MAX_LISTENERS    8u
#define AGENT_SHUTDOWN_GRACE_S 5.0  /* SIGTERM: time allowed to finish pending ACKs */
#define ACCEPT_BACKOFF_S       0.1  /* EMFILE/ENFILE: pause accepting this long */
#define WORKER_LOG_RETRY_S     0.05 /* the log sink refused lines: retry after this */

/* Request attributes copied from a NOTIFY. */
#define REQ_MAX_ARG_LEN (64u * 1024u)

/* Local JWT validation (jwks.c, jwt.c). A key set is built once per policy
 * load, so these bound load-time memory and per-request work. */
#define JWKS_MAX_DOC_SIZE  (256u * 1024u) /* bytes of a JWKS document or PEM key */
#define JWKS_MAX_KEYS	   64u		  /* usable keys kept from one document */
#define JWKS_MAX_ENTRIES   256u		  /* entries of "keys", usable or skipped */
#define JWKS_MIN_RSA_BITS  2048u	  /* RFC 7518 3.3: 2048 or larger */
#define JWKS_MAX_RSA_BITS  8192u	  /* bounds the cost of one verification */
#define JWKS_MAX_KID_LEN   256u		  /* bytes of a "kid" */
#define JWT_MAX_HEADER_LEN 2048u	  /* bytes of a decoded JOSE header */
#define JWT_MAX_SCP	   256u		  /* entries of an "scp" array */

/* Remote key sets (jwks_sched.c): when a JWKS URL is fetched again. */
#define JWKS_REFRESH_DEFAULT_MS (5 * 60 * 1000)	      /* refreshInterval when not set */
#define JWKS_REFRESH_MIN_MS	(10 * 1000)	      /* smallest refreshInterval */
#define JWKS_REFRESH_MAX_MS	(24 * 60 * 60 * 1000) /* largest refreshInterval */
#define JWKS_KID_REFETCH_MS	(10 * 1000) /* at most one unknown-kid fetch per URL per this */

#endif
