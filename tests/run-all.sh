#!/usr/bin/env bash
# Runs every suite against the normal build and again against the ASan+UBSan build, and
# ends with one line "N passed, N failed, N skipped". Each suite prints TAP-like lines:
#   ok - NAME | not ok - NAME: why | skip - NAME: why
# A suite that dies without its checks counts as one failure; nothing passes silently.
# A suite whose first lines say "# run-in: BUILD" runs once, against that build only: the
# long QEMU suites (once is enough, and the sanitizer build checks more), and the deploy
# suite (it installs the programs into a Debian chroot, where the sanitizer runtime is not).
set -u
cd "$(dirname "$0")/.."
results=$(mktemp); trap 'rm -f "$results"' EXIT

run_suite() { # LABEL COMMAND...
	local label=$1; shift
	echo "=== $label"
	local out rc
	out=$("$@" 2>&1); rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	printf '%s\n' "$out" | grep -E '^(ok|not ok|skip) ' | sed "s|^|[$label] |" >>"$results"
	if ! printf '%s\n' "$out" | grep -qE '^(ok|not ok|skip) '; then
		echo "[$label] not ok - suite produced no results (exit $rc)" >>"$results"
	elif [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok '; then
		echo "[$label] not ok - suite exited $rc after its checks" >>"$results"
	fi
}

for build in build build/asan; do
	[ -d "$build" ] || { echo "[$build] not ok - build missing" >>"$results"; continue; }
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		run_suite "$build unit $(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
	done
	for t in tests/integration/*.test.sh tests/e2e/*.test.sh tests/web/*.test.sh tests/deploy/*.test.sh; do
		[ -e "$t" ] || continue
		only=$(head -n 5 "$t" | sed -n 's/^# run-in: //p')
		[ -z "$only" ] || [ "$only" = "$build" ] || continue
		run_suite "$build $(basename "$(dirname "$t")") $(basename "$t" .test.sh)" env ANEMOS_BUILD="$build" bash "$t"
	done
done

echo
grep -E '^\[[^]]*\] (not ok|skip) ' "$results" || true
# cmocka's TAP numbers its lines ("ok 3 - name"): count by the leading word only.
passed=$(grep -cE '^\[[^]]*\] ok ' "$results")
failed=$(grep -cE '^\[[^]]*\] not ok ' "$results")
skipped=$(grep -cE '^\[[^]]*\] skip ' "$results")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
