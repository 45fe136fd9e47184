#!/usr/bin/env bash
# run-in: build
# cost: 150
# The fuzz smoke suite (make fuzz-smoke, and a suite of make test): every libFuzzer harness of
# tests/fuzz/, built with clang and ASan+UBSan into build/fuzz, runs over its checked-in seeds
# (tests/fuzz/corpus/NAME) plus FUZZ_SMOKE_SECONDS (default 15) of new inputs, two at a time.
# One line per harness with the inputs it executed; a crash, leak, sanitizer report, timeout or
# harness finding is a failure, its reproducer kept in build/fuzz/artifacts/ (replay it with
# build/fuzz/fuzz/NAME FILE). clang is installed when missing (deploy/install-deps.sh fuzz);
# when that or the build fails, the suite fails: it never skips.
set -u
cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${FUZZ_SMOKE_SECONDS:-15}
JOBS=2
start=$(date +%s)
# In memory where there is /dev/shm: fuzz_api's store is written on every input.
work=$(mktemp -d /dev/shm/anemos-fuzz-smoke.XXXXXX 2>/dev/null || mktemp -d /tmp/anemos-fuzz-smoke.XXXXXX) || exit 2
# Interrupted: stop the harnesses this suite started (by the PIDs they left), then clean up.
stop() {
	local f
	for f in "$work"/*.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
	wait
	rm -rf "$work"
	exit 130
}
trap stop INT TERM
trap 'rm -rf "$work"' EXIT

if ! make --no-print-directory -j"$JOBS" fuzz-build >"$work/build.log" 2>&1; then
	grep -vE '^(clang|cc) -|^[[:space:]]' "$work/build.log" |
		grep -iE 'error|anemos:|no such file|not found|not installed' | head -n 20 | sed 's/^/# /'
	echo "not ok - fuzz build: make fuzz-build failed (clang missing and not installable, or a compile error)"
	exit 1
fi
mkdir -p build/fuzz/artifacts

# run_one NAME: the harness over its seeds plus new inputs; its result line into $work/NAME.result.
run_one() {
	local name=$1 bin=build/fuzz/fuzz/$1 log=build/fuzz/smoke-$1.log seeds=tests/fuzz/corpus/$1 units why artifact
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "not ok - $name: no seed corpus in $seeds" >"$work/$name.result"
		return
	fi
	mkdir -p "$work/$name.corpus" "$work/$name.tmp"
	TMPDIR=$work/$name.tmp "$bin" -max_total_time="$SECONDS_EACH" -timeout=20 -print_final_stats=1 \
		-artifact_prefix="build/fuzz/artifacts/$name-" "$work/$name.corpus" "$seeds" >"$log" 2>&1 &
	echo "$!" >"$work/$name.pid"
	wait "$!"
	local rc=$?
	rm -f "$work/$name.pid"
	units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -n "$units" ]; then
		echo "ok - $name: $units inputs executed ($(ls "$seeds" | wc -l) seeds, ${SECONDS_EACH} s)" >"$work/$name.result"
		return
	fi
	why=$(grep -m1 -E 'fuzz finding:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log")
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	{
		grep -E 'fuzz finding:|ERROR:|runtime error:|SUMMARY:|^    #[0-9]' "$log" | head -n 20 | sed 's/^/# /'
		echo "not ok - $name: ${why:-exit $rc, no statistics} (${units:-?} inputs; reproducer ${artifact:-none}; log $log)"
	} >"$work/$name.result"
}

names=()
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	names+=("$name")
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	run_one "$name" &
done
wait

failed=0
for name in "${names[@]}"; do
	if [ -f "$work/$name.result" ]; then cat "$work/$name.result"; else echo "not ok - $name: no result"; fi
	grep -q '^not ok' "$work/$name.result" 2>/dev/null && failed=1
	[ -f "$work/$name.result" ] || failed=1
done
echo "# fuzz smoke: ${#names[@]} harnesses in $(( $(date +%s) - start )) s"
exit "$failed"
