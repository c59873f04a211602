/* log-t.h - the log module's types (levels, formats, key=value pairs), apart
 * from its functions, so that the pure formatter (log_fmt.h) needs them
 * without depending on the sink (log.h), as HAProxy's -t.h headers do. */
#ifndef OAUTH2_SPOA_LOG_T_H
#define OAUTH2_SPOA_LOG_T_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

enum log_format {
	LOG_FMT_LOGFMT = 0,
	LOG_FMT_JSON = 1,
};

/* A structured line: the event name, then key=value pairs in order. Values
 * are strings (NULL is written as "-", "" in JSON); <num> ones hold a number
 * and are written unquoted in JSON. Keys are identifiers from the code,
 * written as is; <klen> is the key's length when the caller knows it
 * (LOG_KV() with a literal key), 0 to have it measured. */
struct log_kv {
	const char *key;
	const char *val;
	int num;
	unsigned klen;
};

#define LOG_KV(key, val, num)                                                                      \
	{                                                                                          \
		(key), (val), (num), sizeof(key) - 1                                               \
	}

#endif
