/* What the libFuzzer harnesses share: the input as text, split into fields, and the way a
 * harness reports a finding that is not a crash (a broken promise of the code under test). */
#ifndef ANEMOS_FUZZ_SUPPORT_H
#define ANEMOS_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated malloc'd copy (a NUL inside ends the string early); NULL
 * when out of memory. The caller frees it. */
char *fuzz_text(const uint8_t *data, size_t size);
/* Splits text in place at each sep into at most max fields; the last field keeps any
 * further separators. Returns the number of fields (at least 1); fields past it are NULL. */
size_t fuzz_split(char *text, char sep, char **fields, size_t max);
/* A finding: prints "fuzz finding: MESSAGE" and aborts, so that libFuzzer keeps the input
 * as a crash reproducer. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
