/* cpu_sched.h - the agent's CPU scheduling class (Linux).
 *
 * HAProxy 3.1 and later send each NOTIFY as its stream produces it. When the
 * agent shares a core with HAProxy, every such write wakes the agent, which
 * under the default class preempts HAProxy to decode one frame and answer
 * it: two context switches per request. SCHED_BATCH keeps the scheduler from
 * preempting on wakeup, so the agent runs when HAProxy yields or its slice
 * ends, and then finds many frames per read. It needs no privilege, changes
 * no priority (nice stays), and an idle core still runs the agent at once. */
#ifndef OAUTH2_SPOA_CPU_SCHED_H
#define OAUTH2_SPOA_CPU_SCHED_H

enum cpu_sched {
	CPU_SCHED_BATCH = 0, /* the default */
	CPU_SCHED_NORMAL,
};

/* "batch" or "normal"; -1 for anything else. */
int cpu_sched_parse(const char *s);

const char *cpu_sched_name(enum cpu_sched s);

/* Applies <s> to the calling thread; threads it creates afterwards inherit
 * it, so call it before starting any. Makes no system call that changes
 * anything when the thread already has the class (a service manager set it).
 * Returns 0, or -1 with errno set. */
int cpu_sched_apply(enum cpu_sched s);

#endif
