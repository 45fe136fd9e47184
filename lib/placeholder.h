/* Identifiers firmware ships unfilled (lib/placeholder.c). */
#ifndef ANEMOS_PLACEHOLDER_H
#define ANEMOS_PLACEHOLDER_H

#include <stdbool.h>

/* True for OEM filler text ("To be filled by O.E.M.", "Default string", "SerNum0", all
 * zeros, ...), compared case-insensitively after stripping blanks; true for "" too. */
bool text_is_placeholder(const char *text);
/* True for the all-zero and all-F UUIDs and AMI's unset default. */
bool uuid_is_placeholder(const char *uuid);

#endif
