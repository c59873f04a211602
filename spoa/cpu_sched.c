/* cpu_sched.c - see cpu_sched.h. */
#include "cpu_sched.h"

#include <sched.h>
#include <string.h>

int cpu_sched_parse(const char *s)
{
	if (strcmp(s, "batch") == 0)
		return CPU_SCHED_BATCH;
	if (strcmp(s, "normal") == 0)
		return CPU_SCHED_NORMAL;
	return -1;
}

const char *cpu_sched_name(enum cpu_sched s)
{
	return s == CPU_SCHED_BATCH ? "batch" : "normal";
}

int cpu_sched_apply(enum cpu_sched s)
{
	struct sched_param sp = {.sched_priority = 0};
	int want = s == CPU_SCHED_BATCH ? SCHED_BATCH : SCHED_OTHER;

	/* Already there (systemd's CPUSchedulingPolicy=): no call, so a unit whose
	 * SystemCallFilter= denies @resources does not see one. */
	if (sched_getscheduler(0) == want)
		return 0;
	/* Linux applies this to the calling thread only (pid 0). */
	return sched_setscheduler(0, want, &sp);
}
