#!/usr/bin/env bash
# run-in: build
# cost: 25
# Lints every shell script of the repository with shellcheck, one line per script: "ok" when
# `shellcheck -S warning` (warnings and errors) finds nothing, else "not ok" with its findings
# under it. The scripts are found, not listed: every file `git ls-files` names that ends in .sh
# or whose first line is a sh, bash or dash shebang, so a new script is covered at once. A
# sourced file without a shebang names its shell in a "shell=" directive (without one, SC2148).
# The repository's .shellcheckrc makes shellcheck follow the scripts' `source` of their
# libraries (tests/integration/lib.sh, images/base/*.sh). Needs shellcheck (installed by
# deploy/install-deps.sh test) and a git checkout; runs once (both builds share the scripts).
set -u
cd "$(dirname "$0")/../.." || exit 1

if ! command -v shellcheck >/dev/null 2>&1; then
	echo "not ok - shellcheck is installed: it is missing (deploy/install-deps.sh test installs it)"
	exit 1
fi
mapfile -d '' files < <(git ls-files -z)
if ! wait $!; then
	echo "not ok - the repository's files: git ls-files failed (not a git checkout?)"
	exit 1
fi

# is_shell FILE: whether FILE is a shell script: a name ending in .sh, or a first line
# "#!/bin/sh", "#!/bin/bash", "#!/usr/bin/env bash", "#!/bin/dash -e" and the like.
shebang='^#![[:space:]]*([^[:space:]]*/)?(env[[:space:]]+(-S[[:space:]]+)?)?(sh|bash|dash)([[:space:]]|$)'
is_shell() {
	local first=""
	case $1 in *.sh) return 0 ;; esac
	IFS= read -r -n 128 first <"$1" 2>/dev/null
	[[ $first =~ $shebang ]]
}

scripts=()
for f in "${files[@]}"; do
	# Regular files only: a symlink's target is checked where it is tracked itself.
	if [ ! -L "$f" ] && [ -f "$f" ] && is_shell "$f"; then scripts+=("$f"); fi
done
if [ "${#scripts[@]}" -eq 0 ]; then
	echo "not ok - shell scripts found: none among the files git ls-files names"
	exit 1
fi
echo "# shellcheck $(shellcheck --version | sed -n 's/^version: //p') over ${#scripts[@]} scripts"

# A script shellcheck passed is not checked again while its bytes and shellcheck's version are
# the same: a mark named by their sha256 is kept in the build (a fresh clone checks them all).
passed_dir=${ANEMOS_BUILD:-build}/shellcheck-passed
mkdir -p "$passed_dir" 2>/dev/null || passed_dir=""
sc_version=$(shellcheck --version | sed -n 's/^version: //p')
failures=0 cached=0
for f in "${scripts[@]}"; do
	mark=$(printf '%s\n' "$sc_version" | cat - "$f" | sha256sum | cut -c1-64)
	if [ -n "$passed_dir" ] && [ -e "$passed_dir/$mark" ]; then
		echo "ok - shellcheck $f"
		cached=$((cached + 1))
		continue
	fi
	out=$(shellcheck -S warning -f gcc -- "$f" 2>&1); rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		echo "ok - shellcheck $f"
		[ -z "$passed_dir" ] || : >"$passed_dir/$mark"
	else
		n=$(printf '%s\n' "$out" | grep -c .)
		echo "not ok - shellcheck $f: $n finding(s) (shellcheck -S warning $f; exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
		failures=$((failures + 1))
	fi
done

# No two structs of the programs (server, cli, lib, initramfs, inventory, images) share a name:
# a grep for one leads to one definition. Tests and benchmarks keep their own.
echo "# shellcheck: $cached of ${#scripts[@]} scripts unchanged since they passed ($passed_dir)"

programs() { for f in "${files[@]}"; do case $f in server/*.[ch] | cli/*.[ch] | lib/*.[ch] | initramfs/*.[ch] | inventory/*.[ch] | images/*.[ch]) [ -f "$f" ] && echo "$f" ;; esac; done; }
dups=$(for f in $(programs); do
	case $f in *.c | *.h) sed -n 's/^struct \([a-z_0-9]*\) {.*/\1/p' "$f" | sed "s|\$| $f|" ;; esac
done | sort | awk '{ n[$1]++; where[$1] = where[$1] " " $2 } END { for (s in n) if (n[s] > 1) print "struct " s ":" where[s] }')
if [ -z "$dups" ]; then
	echo "ok - no two structs share a name ($(for f in $(programs); do grep -c '^struct [a-z_0-9]* {' "$f"; done | awk '{ s += $1 } END { print s }') defined)"
else
	echo "not ok - no two structs share a name: $(printf '%s; ' "$dups")"
	failures=$((failures + 1))
fi
# The boot contract (lib/boot_contract.h) is the one spelling of the anemos.WORD kernel
# arguments: the iPXE templates, shell scripts and C sources set or read (anemos.WORD=) only
# words it defines, and no C source but it spells one as a string.
contract=$(sed -n 's/^#define BOOT_ARG_[A-Z]* *"\(anemos\.[a-z_]*\)"$/\1/p' lib/boot_contract.h | sort -u)
used=$(for f in "${files[@]}"; do case $f in ipxe-scripts/* | target-scripts/* | initramfs/* | server/*.[ch] | cli/*.[ch] | lib/*.[ch] | deploy/*) [ -f "$f" ] && grep -o 'anemos\.[a-z_]*=' "$f" | sed "s|=\$| $f|" ;; esac; done | sort -u)
stray=$(printf '%s\n' "$used" | awk -v c="$(printf '%s ' $contract)" 'BEGIN { n = split(c, w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1 } NF && !ok[$1]')
spelled=$(for f in "${files[@]}"; do case $f in lib/boot_contract.h) ;; server/*.[ch] | cli/*.[ch] | lib/*.[ch] | initramfs/*.[ch] | initramfs/*/*.[ch]) [ -f "$f" ] && grep -Hn "\"anemos\.\($(printf '%s\n' $contract | sed 's/anemos\.//' | paste -sd'|' | sed 's/|/\\|/g')\)" "$f" ;; esac; done)
if [ "$(printf '%s\n' $contract | wc -l)" -ge 5 ] && [ -z "$stray" ] && [ -z "$spelled" ]; then
	echo "ok - the boot contract: $(printf '%s ' $contract)is all that templates, scripts and C use ($(printf '%s\n' "$used" | awk 'NF { print $2 }' | sort -u | wc -l) files)"
else
	echo "not ok - the boot contract (lib/boot_contract.h: $(printf '%s ' $contract)):${stray:+ not in it: $(printf '%s; ' "$stray")}${spelled:+ spelled out in C: $(printf '%s; ' "$spelled")}"
	failures=$((failures + 1))
fi

# One error convention (lib/errors.h): a function of the programs (server, cli, lib, initramfs,
# inventory, images) fails with -errno, never -1. A `return -1;` comes back only where an
# outside API's contract demands it (a libarchive or curl callback, a qsort comparator...),
# marked on its line with a comment "-1 allowed: WHY".
minus_one=$(for f in "${files[@]}"; do
	case $f in server/*.c | cli/*.c | lib/*.c | initramfs/*.c | inventory/*.c | images/*.c) [ -f "$f" ] && grep -Hn -E 'return[[:space:]]*\(?[[:space:]]*-1[[:space:]]*\)?[[:space:]]*;' "$f" | grep -v -e '-1 allowed: ' ;; esac
done)
if [ -z "$minus_one" ]; then
	echo "ok - no function of the programs returns -1 (0 or -errno, lib/errors.h; $(for f in "${files[@]}"; do case $f in server/*.c | cli/*.c | lib/*.c | initramfs/*.c | inventory/*.c | images/*.c) [ -f "$f" ] && grep -c -e '-1 allowed: ' "$f" ;; esac; done | awk '{ s += $1 } END { print s + 0 }') marked for an outside API)"
else
	echo "not ok - no function of the programs returns -1: return -errno with err_set (lib/errors.h), or mark a callback whose outside API demands -1 with a comment \"-1 allowed: WHY\" on the line: $(printf '%s\n' "$minus_one" | head -n 10 | awk 'NR > 1 { printf " | " } { printf "%s", $0 }')"
	failures=$((failures + 1))
fi
# No function of anemosd (server/) is longer than 60 lines, its braces included: a function
# is a "{" alone at the start of a line to the next "}" alone there.
long=$(for f in "${files[@]}"; do case $f in server/*.c) echo "$f" ;; esac; done | xargs awk '
	FNR == 1 { start = 0 }
	/^\{$/ { start = FNR; name = prev }
	/^\}$/ && start { if (FNR - start + 1 > 60) printf "%s:%d %s (%d lines)\n", FILENAME, start, name, FNR - start + 1; start = 0 }
	{ prev = $0 }')
if [ -z "$long" ]; then
	echo "ok - no function in server/ is longer than 60 lines"
else
	echo "not ok - no function in server/ is longer than 60 lines: $(printf '%s; ' "$long")"
	failures=$((failures + 1))
fi
# Every function server/anemosd.h declares states its contract: it sits in a block of
# declarations (no blank line, nothing else between them) directly under a comment, which says
# what each returns, what it does on failure and who owns what (cli/anemosctl.h's way). A
# declaration runs from its first line to the one ending in ';'. contract_gaps FILE prints how
# many functions FILE declares, then FILE:LINE NAME of each one without such a comment.
contract_gaps() {
	awk '
	in_comment { if (index($0, "*/")) { in_comment = 0; prev = "comment" } next }
	in_decl { if ($0 ~ /;[ \t]*$/) in_decl = 0; next }
	/^[ \t]*\/\*/ { if (index($0, "*/")) prev = "comment"; else in_comment = 1; next }
	/^[a-z]/ && /\(/ && !/^(static|typedef|extern)[ \t]/ {
		n++
		ok = prev == "comment" || (prev == "decl" && block_ok)
		if (!ok) {
			match($0, /[A-Za-z_][A-Za-z_0-9]*\(/)
			gaps = gaps sprintf("%s:%d %s\n", FILENAME, FNR, substr($0, RSTART, RLENGTH - 1))
		}
		block_ok = ok
		prev = "decl"
		if ($0 !~ /;[ \t]*$/) in_decl = 1
		next
	}
	{ prev = "other" }
	END { printf "%d\n%s", n, gaps }' "$1"
}
gaps=$(contract_gaps server/anemosd.h)
declared=$(printf '%s\n' "$gaps" | head -n 1)
missing=$(printf '%s\n' "$gaps" | sed 1d | grep -c .)
if [ "${declared:-0}" -ge 50 ] && [ "$missing" -eq 0 ]; then
	echo "ok - every function server/anemosd.h declares has its contract in a comment above its block ($declared declarations)"
else
	echo "not ok - every function server/anemosd.h declares has its contract in a comment above its block: $missing of ${declared:-0} without one (a blank line or other text between it and the comment over it), first: $(printf '%s\n' "$gaps" | sed 1d | head -n 10 | paste -sd';' | sed 's/;/; /g')"
	failures=$((failures + 1))
fi
[ "$failures" -eq 0 ]
