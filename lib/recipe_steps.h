/* The steps of a recipe build, in order, one copy for both places that build: anemos-mkimg
 * on a build host and anemos-agent on the target. Each step is a shell function of
 * images/base/BASE.sh (or files.sh, which every base sources), run by /bin/sh as
 * RECIPE_STEP_SCRIPT: the recipe first, so its variables are there for the base script, and
 * set -e after it, for the step itself. The environment (ROOT, CACHE, RECIPE, RECIPE_DIR,
 * MKIMG_BASE, MKIMG_WORK) is the caller's. */
#ifndef ANEMOS_RECIPE_STEPS_H
#define ANEMOS_RECIPE_STEPS_H

#include <stdbool.h>
#include <string.h>

struct recipe_step {
	const char *name;    /* as logged: "base", "packages", ... */
	const char *phase;   /* the install phase the agent reports it under */
	const char *call;    /* the shell function */
	bool provision_only; /* runs only when the recipe defines provision() */
};

static const struct recipe_step recipe_steps[] = {
	{ "base", "bootstrap", "base_build", false },        /* the base system into $ROOT */
	{ "packages", "bootstrap", "base_packages", false }, /* the recipe's packages */
	{ "provision", "provision", "base_provision", true },/* the recipe's provision() */
	{ "files", "provision", "base_files", false },       /* files/ and the templates */
	{ "finish", "provision", "base_finish", false },     /* /boot in place, caches cleaned */
};
#define RECIPE_STEPS (sizeof(recipe_steps) / sizeof(recipe_steps[0]))

/* Per-host templates: files/PATH.template (or PATH.makeimg.template, the original builder's
 * name) is kept in an image as RECIPE_TEMPLATES_DIR/PATH.template (images/base/files.sh) and
 * rendered into /PATH when anemos-agent installs it. */
#define RECIPE_TEMPLATES_DIR "etc/anemos/templates"   /* relative to the image's root */

/* The length of name's template suffix (".makeimg.template" or ".template"), 0 for none. */
static inline size_t recipe_template_suffix(const char *name)
{
	static const char *const suffixes[] = { ".makeimg.template", ".template" };
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (len > strlen(suffixes[i]) && strcmp(name + len - strlen(suffixes[i]), suffixes[i]) == 0)
			return strlen(suffixes[i]);
	return 0;
}

/* The most a recipe bundle may hold (anemosd checks it, targets keep it in RAM). */
#define RECIPE_BUNDLE_MAX (256LL << 20)

/* printf format: %s is the step's call. */
#define RECIPE_STEP_SCRIPT ". \"$RECIPE\" || exit 1\nset -e\n. \"$MKIMG_BASE\"\n%s\n"

#endif
