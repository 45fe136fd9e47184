/* {{name}} templates, the one syntax of anemosd's iPXE scripts and of the per-host files of
 * recipes that anemos-agent renders on targets. */
#ifndef ANEMOS_TEMPLATE_TEXT_H
#define ANEMOS_TEMPLATE_TEXT_H

#include <stddef.h>

/* Finds the value of the variable name[0..len) for template_expand: 0 with *value set (owned
 * by the caller of template_expand, alive until it returns), -ENOENT for an unknown
 * variable, -EINVAL for a value that must not go into this kind of text. */
typedef int (*template_lookup_fn)(void *cls, const char *name, size_t len, const char **value);

/* Expands every {{name}} of tpl. Returns a new string the caller frees, or NULL with why
 * (whysz bytes) saying "unknown variable 'x'", "unsafe value for 'x'", "unterminated '{{'"
 * or "out of memory". */
char *template_expand(const char *tpl, template_lookup_fn lookup, void *cls, char *why, size_t whysz);

#endif
