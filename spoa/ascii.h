/* ascii.h - byte classes and case folding the protocols here define on
 * ASCII alone (HTTP header whitespace, case-insensitive scheme and header
 * names), never on the C locale. Header-only: these run on every byte. */
#ifndef OAUTH2_SPOA_ASCII_H
#define OAUTH2_SPOA_ASCII_H

#include <stdbool.h>
#include <stdint.h>

/* RFC 9110 OWS: space or horizontal tab. */
static inline bool ascii_is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static inline uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

#endif
