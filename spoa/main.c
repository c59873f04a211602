/* main.c - oauth2-spoa: command line in, exit status out. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "options.h"
#include "purge_cli.h"

int main(int argc, char **argv)
{
	struct options o;
	struct err e = {0};

	if (argc > 1 && !strcmp(argv[1], "purge"))
		return purge_cli_main(argc - 1, argv + 1);

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
