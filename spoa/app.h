/* app.h - the running agent: listeners, worker threads, shared decision state
 * and signal handling. */
#ifndef OAUTH2_SPOA_APP_H
#define OAUTH2_SPOA_APP_H

#include "options.h"

/* Runs the agent until SIGTERM or SIGINT and returns the process exit
 * status: 0 after a clean shutdown, 1 on a runtime failure, 2 when the
 * configuration or policies could not be loaded. With o->check, only loads
 * and reports. */
int app_run(const struct options *o);

#endif
