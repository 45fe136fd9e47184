/* UTF-8 text from outside (a webhook receiver's answer, an agent's error, a message cut to a
 * buffer's size) made safe for JSON: jansson refuses a string that is not valid UTF-8, and an
 * answer or event built from one would be lost. */
#ifndef ANEMOS_UTF8_H
#define ANEMOS_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (of at most @left bytes; SIZE_MAX for text
 * ended by a NUL, which ends a sequence too), or 0 when there is none there. */
size_t utf8_sequence(const unsigned char *s, size_t left);

/* The length of the longest prefix of s that is valid UTF-8: no stray continuation byte,
 * no sequence cut short, no overlong form, no surrogate, nothing above U+10FFFF. */
size_t utf8_valid_len(const char *s);

/* Replaces, in place, every byte of s that does not belong to a valid UTF-8 sequence (a stray
 * continuation byte, a sequence cut short, at the end too, an overlong form, a surrogate,
 * above U+10FFFF) by '?'. Returns s. */
char *utf8_scrub(char *s);

#endif
