#!/bin/sh
# recipe-bundle.sh DIR OUT: the bundle `anemosctl image add DIR` uploads for a recipe image.
# Compiled into anemosctl (make turns it into a C string); runs on the operator's machine,
# where the recipe comes from. Prints the recipe's name on stdout; errors on stderr, exit 1.
#
# DIR holds either a `recipe` (Anemos' own format: name, base, suite, packages, modules,
# mirror, keyring, provision(), files/) or an `IMGBUILD` written for the original builder
# (imgname, target=debian, debian_suite, packages, provision(), files/ and
# *.makeimg.template files): that one is translated into a `recipe` beside it (base
# debootstrap), the folder otherwise unchanged. The bundle is a tar with fixed owners, times
# and order: the same folder always gives the same bundle, hence the same SHA-256.
set -eu
dir=$1 out=$2
die() { echo "anemosctl: $*" >&2; exit 1; }
[ -d "$dir" ] || die "$dir is not a folder"
cd "$dir"

# Single-quoted for sh, whatever the value holds.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

if [ -f recipe ]; then
	stage=.
	name=$(sh -c '. ./recipe >/dev/null 2>&1 || exit 1; printf "%s" "${name:-}"') ||
		die "$dir/recipe: sourcing it with /bin/sh failed"
elif [ -f IMGBUILD ]; then
	command -v bash >/dev/null 2>&1 || die "reading $dir/IMGBUILD needs bash"
	stage=$(mktemp -d "${TMPDIR:-/tmp}/anemos-recipe.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	cp -a . "$stage/"
	# shellcheck disable=SC2016
	bash -c '
		set -e
		. ./IMGBUILD >/dev/null
		case "${target:-}" in
		debian) ;;
		arch | alpine)
			echo "IMGBUILD: target=$target: this appliance builds Debian systems only (targets bootstrap them from a Debian mirror with debootstrap); $target needs its own package manager and mirrors, which the Anemos environment does not carry" >&2
			exit 3 ;;
		*) echo "IMGBUILD: target=${target:-(unset)}: unknown target; this appliance builds target=debian" >&2; exit 3 ;;
		esac
		printf "imgname=%s\n" "${imgname:-}"
		printf "suite=%s\n" "${debian_suite:-bookworm}"
		printf "packages=%s\n" "${packages[*]:-}"
		printf "provision=%s\n" "$(declare -F provision >/dev/null && echo 1 || echo 0)"
		' >"$stage/.imgbuild.vars" 2>"$stage/.imgbuild.err" || {
		cat "$stage/.imgbuild.err" >&2
		die "$dir/IMGBUILD cannot be used"
	}
	var() { sed -n "s/^$1=//p" "$stage/.imgbuild.vars"; }
	name=$(var imgname)
	{
		echo "# Made by anemosctl from IMGBUILD (an image recipe for the original builder)."
		echo "name=$(quote "$name")"
		echo "base=debootstrap"
		echo "suite=$(quote "$(var suite)")"
		echo "packages=$(quote "$(var packages)")"
		if [ "$(var provision)" = 1 ]; then
			# IMGBUILD is bash: its provision() runs in bash (minbase has it), whatever sh is.
			echo "provision() {"
			echo "	bash -s <<'ANEMOS_IMGBUILD_PROVISION'"
			bash -c '. ./IMGBUILD >/dev/null; declare -f provision'
			echo "provision"
			echo "ANEMOS_IMGBUILD_PROVISION"
			echo "}"
		fi
	} >"$stage/recipe"
	rm -f "$stage/.imgbuild.vars" "$stage/.imgbuild.err"
else
	die "$dir has no recipe (or IMGBUILD) file: it is not a recipe folder"
fi
[ -n "$name" ] || die "$dir: the recipe names no image (name=)"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu --exclude-vcs \
	-C "$stage" -cf "$out" . || die "cannot write the bundle of $dir"
printf '%s\n' "$name"
