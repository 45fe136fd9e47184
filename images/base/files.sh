# shellcheck shell=dash
# The recipe folder's files/ tree over the root, the step every base shares, on the build
# host (anemos-mkimg) and on the target (anemos-agent) alike. Sourced (POSIX sh) after the
# recipe, with ROOT and RECIPE_DIR set.
#
# Files are owned by whoever builds (root), folders that exist keep their mode (/root stays
# 0700) and symlinked folders (/bin -> usr/bin) stay symlinks. Per-host templates
# (NAME.template, or NAME.makeimg.template as the original builder's recipes call them) are
# not installed as they are: they go to /etc/anemos/templates/PATH, and anemos-agent renders
# each with the host's values into /PATH when it configures the installed system, for a
# prebuilt image and a built-on-target one the same way.
ANEMOS_TEMPLATES=etc/anemos/templates

base_files() {
	local t
	[ -d "$RECIPE_DIR/files" ] || return 0
	tar -C "$RECIPE_DIR/files" -cf - . |
		tar -C "$ROOT" -xf - --no-same-owner --no-overwrite-dir --keep-directory-symlink
	(cd "$RECIPE_DIR/files" && find . -name '*.template' -type f) | sed 's|^\./||' | LC_ALL=C sort |
		while IFS= read -r t; do
			mkdir -p "$ROOT/$ANEMOS_TEMPLATES/$(dirname "$t")"
			mv -f "$ROOT/$t" "$ROOT/$ANEMOS_TEMPLATES/$t"
		done
}
