/* main.c - oauth2-spoa: command line in, exit status out. */
#include <stdio.h>

#include "app.h"
#include "options.h"

int main(int argc, char **argv)
{
	struct options o;
	struct err e = {0};

	if (options_parse(argc, argv, &o, &e) < 0) {
		fprintf(stderr, "oauth2-spoa: %s\nTry '%s --help'.\n", e.msg, argv[0]);
		return 2;
	}
	if (o.help) {
		options_usage(stdout, argv[0]);
		return 0;
	}
	if (o.version) {
		printf("oauth2-spoa %s\n", OAUTH2_SPOA_VERSION);
		return 0;
	}
	return app_run(&o);
}
