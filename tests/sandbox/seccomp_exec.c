/* seccomp_exec - runs a command under a system-call allow-list, the way
 * systemd's SystemCallFilter= does without systemd as PID 1 (tests).
 *
 *   seccomp_exec ALLOW_FILE -- COMMAND [ARG...]
 *
 * ALLOW_FILE holds one system-call name per line (t51 expands the unit's
 * SystemCallFilter= groups with systemd-analyze). Every other call kills the
 * process (SIGSYS), as a unit's filter does without SystemCallErrorNumber=.
 * Names this architecture does not have are skipped, as systemd skips them. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int allow_listed(scmp_filter_ctx ctx, const char *path)
{
	char name[128];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s", name) == 1) {
		int nr = seccomp_syscall_resolve_name(name);

		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
			fclose(f);
			return -1;
		}
		n++;
	}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int n;

	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: seccomp_exec ALLOW_FILE -- COMMAND [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		fprintf(stderr, "seccomp_exec: seccomp_init failed\n");
		return 1;
	}
	n = allow_listed(ctx, argv[1]);
	if (n <= 0 || seccomp_load(ctx) < 0) {
		fprintf(stderr, "seccomp_exec: cannot load the allow-list %s (%d names)\n", argv[1],
			n);
		seccomp_release(ctx);
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[3], argv + 3);
	fprintf(stderr, "seccomp_exec: %s: %s\n", argv[3], strerror(errno));
	return 127;
}
