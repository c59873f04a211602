/* purge_cli.h - `oauth2-spoa purge`: the admin client for scripts.
 *
 *   oauth2-spoa purge --admin ADDR [--admin-token-file FILE]
 *                     (--sub S | --client-id C | --token-file FILE | --all)
 *
 * ADDR is HOST:PORT or unix:/PATH. A token to purge is read from a file
 * ("-" for stdin), never from the command line (ps would show it). Prints
 * the listener's JSON answer; exit 0 on 200, 1 on any other answer or
 * error, 2 on bad usage. */
#ifndef OAUTH2_SPOA_PURGE_CLI_H
#define OAUTH2_SPOA_PURGE_CLI_H

int purge_cli_main(int argc, char **argv);

#endif
