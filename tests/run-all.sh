#!/usr/bin/env bash
# Runs every suite against the normal build and again against the ASan+UBSan build, and
# ends with one line "N passed, N failed, N skipped". Each suite prints TAP-like lines:
#   ok - NAME | not ok - NAME: why | skip - NAME: why
# A suite that dies without its checks counts as one failure; nothing passes silently.
#
# Headers a suite may carry in its first 5 lines:
#   # run-in: BUILD   runs once, against that build only: the long QEMU suites (once is
#                     enough, and the sanitizer build checks more), and the deploy suite (it
#                     installs the programs into a Debian chroot, where the sanitizer runtime
#                     is not).
#   # cost: N         rough seconds the suite takes (no header: 1). Suites start in order of
#                     cost, highest first, so that the long QEMU suites start at once and the
#                     short ones fill in at the end.
#   # lock: NAME      never runs at the same time as another suite holding the same NAME (a
#                     shared cache or install step); other suites still run beside it.
#   # exclusive       runs alone: nothing else runs while it does.
# Suites run two at a time (both builds in the same pool). Each one's output is kept in a
# temporary file and printed whole, indented under "=== LABEL", when it ends, followed by
# "--- LABEL: N passed, N failed, N skipped in S s". The end lists the failures and skips,
# the 10 slowest suites and the wall time, then the totals line (always the last line; the
# exit status is non-zero when anything failed).
#
# Environment:
#   ANEMOS_SUITES=REGEX  runs only the suites whose label (as printed after "===", e.g.
#                        "build/asan e2e discover", "build unit test_parse") matches the
#                        extended regular expression; a regex matching none is a failure.
#   ANEMOS_JOBS=N        how many suites run at once (default 2; 1 runs them one by one).
set -u
T_START=${EPOCHREALTIME/[.,]/}   # microseconds, whatever the locale's decimal point
cd "$(dirname "$0")/.." || exit 2
tmpdir=$(mktemp -d /tmp/anemos-run-all.XXXXXX) || exit 2
declare -A JOB_OF=()   # PID -> suite index, for the suites running now
# Interrupted: the running suites are stopped (by PID; their own traps clean up after them).
stop_all() {
	local pid
	for pid in "${!JOB_OF[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	wait
	rm -rf "$tmpdir"
	exit 130
}
trap stop_all INT TERM
trap 'rm -rf "$tmpdir"' EXIT
results=$tmpdir/results
: >"$results"
jobs_max=${ANEMOS_JOBS:-2}
case $jobs_max in '' | *[!0-9]* | 0) echo "ANEMOS_JOBS must be a positive number" >&2; exit 2 ;; esac
# `wait -n -p` (bash 5.1) says which suite ended; an older bash runs them one at a time.
if [ "${BASH_VERSINFO[0]}" -lt 5 ] || { [ "${BASH_VERSINFO[0]}" -eq 5 ] && [ "${BASH_VERSINFO[1]}" -lt 1 ]; }; then
	jobs_max=1
fi
filter=${ANEMOS_SUITES:-}

# The suites, by index: label, build, command kind and file, and their headers.
LABEL=() BUILD=() KIND=() FILE=() COST=() LOCK=() EXCL=()
selected() { [ -z "$filter" ] || [[ $1 =~ $filter ]]; }
add_suite() { # LABEL BUILD KIND FILE
	selected "$1" || return 0
	local i=${#LABEL[@]} head
	LABEL[i]=$1 BUILD[i]=$2 KIND[i]=$3 FILE[i]=$4 COST[i]=1 LOCK[i]="" EXCL[i]=0
	if [ "$3" = script ]; then
		head=$(head -n 5 "$4")
		COST[i]=$(sed -n 's/^# cost: *\([0-9][0-9]*\).*/\1/p' <<<"$head" | head -n 1)
		COST[i]=${COST[i]:-1}
		LOCK[i]=$(sed -n 's/^# lock: *\([^ ]*\).*/\1/p' <<<"$head" | head -n 1)
		grep -qx '# exclusive' <<<"$head" && EXCL[i]=1
	fi
	return 0
}

for build in build build/asan; do
	if [ ! -d "$build" ]; then
		selected "$build" && echo "[$build] not ok - build missing" >>"$results"
		continue
	fi
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		add_suite "$build unit $(basename "$t")" "$build" unit "$t"
	done
	for t in tests/integration/*.test.sh tests/e2e/*.test.sh tests/web/*.test.sh tests/deploy/*.test.sh tests/fuzz/*.test.sh; do
		[ -e "$t" ] || continue
		only=$(head -n 5 "$t" | sed -n 's/^# run-in: //p')
		[ -z "$only" ] || [ "$only" = "$build" ] || continue
		add_suite "$build $(basename "$(dirname "$t")") $(basename "$t" .test.sh)" "$build" script "$t"
	done
done
if [ -n "$filter" ] && [ "${#LABEL[@]}" -eq 0 ]; then
	echo "[ANEMOS_SUITES] not ok - no suite matches /$filter/" >>"$results"
fi

# The order: highest cost first; equal costs keep the order above.
PENDING=()
if [ "${#LABEL[@]}" -gt 0 ]; then
	mapfile -t PENDING < <(for i in "${!LABEL[@]}"; do printf '%s %s\n' "${COST[i]}" "$i"; done |
		sort -s -k1,1nr | cut -d' ' -f2)
fi

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }   # microseconds, whatever the locale
us_to_s() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }   # "12.3"

START=() SECS=()
RUNNING=0 RUNNING_EXCL=0
start_suite() { # INDEX
	local i=$1 out=$tmpdir/$1.out
	START[i]=$(now_us)
	if [ "${KIND[i]}" = unit ]; then
		env CMOCKA_MESSAGE_OUTPUT=TAP "${FILE[i]}" >"$out" 2>&1 </dev/null &
	else
		env ANEMOS_BUILD="${BUILD[i]}" bash "${FILE[i]}" >"$out" 2>&1 </dev/null &
	fi
	JOB_OF[$!]=$i
	RUNNING=$((RUNNING + 1))
	[ "${EXCL[i]}" = 0 ] || RUNNING_EXCL=1
}

# finish_suite INDEX RC: prints the suite's output whole and records its results.
finish_suite() {
	local i=$1 rc=$2 label=${LABEL[$1]} out p f s dt extra=""
	dt=$(( $(now_us) - START[i] ))
	SECS[i]=$dt
	out=$(cat "$tmpdir/$i.out")
	rm -f "$tmpdir/$i.out"
	echo "=== $label"
	printf '%s\n' "$out" | sed 's/^/    /'
	printf '%s\n' "$out" | grep -E '^(ok|not ok|skip) ' | sed "s|^|[$label] |" >>"$results"
	if ! printf '%s\n' "$out" | grep -qE '^(ok|not ok|skip) '; then
		extra="not ok - suite produced no results (exit $rc)"
	elif [ "$rc" -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^not ok '; then
		extra="not ok - suite exited $rc after its checks"
	fi
	[ -z "$extra" ] || echo "[$label] $extra" >>"$results"
	p=$(printf '%s\n' "$out" | grep -cE '^ok ')
	f=$(printf '%s\n' "$out" | grep -cE '^not ok ')
	[ -z "$extra" ] || f=$((f + 1))
	s=$(printf '%s\n' "$out" | grep -cE '^skip ')
	echo "--- $label: $p passed, $f failed, $s skipped in $(us_to_s "$dt") s${extra:+ ($extra)}"
}

# lock_held NAME: whether a running suite holds the lock NAME.
lock_held() {
	local pid
	for pid in "${!JOB_OF[@]}"; do [ "${LOCK[${JOB_OF[$pid]}]}" = "$1" ] && return 0; done
	return 1
}
# next_suite: the position in PENDING of the first suite that may start now, if any.
next_suite() {
	local k i
	[ "$RUNNING_EXCL" = 0 ] || return 1
	for k in "${!PENDING[@]}"; do
		i=${PENDING[k]}
		if [ "${EXCL[i]}" = 1 ]; then
			# Alone, and after everything before it: nothing after it starts meanwhile.
			[ "$RUNNING" -eq 0 ] && { echo "$k"; return 0; }
			return 1
		fi
		[ -n "${LOCK[i]}" ] && lock_held "${LOCK[i]}" && continue
		echo "$k"; return 0
	done
	return 1
}

while [ "${#PENDING[@]}" -gt 0 ] || [ "$RUNNING" -gt 0 ]; do
	while [ "$RUNNING" -lt "$jobs_max" ] && k=$(next_suite); do
		start_suite "${PENDING[k]}"
		unset 'PENDING[k]'
		PENDING=("${PENDING[@]}")
	done
	if [ "$jobs_max" -gt 1 ]; then
		pid=""
		wait -n -p pid; rc=$?
		if [ -z "$pid" ]; then   # nothing reported (not expected): take one that has ended
			for p in "${!JOB_OF[@]}"; do
				kill -0 "$p" 2>/dev/null || { pid=$p; wait "$p"; rc=$?; break; }
			done
			[ -n "$pid" ] || continue
		fi
	else
		pid=${!JOB_OF[*]}
		wait "$pid"; rc=$?
	fi
	i=${JOB_OF[$pid]}
	unset 'JOB_OF[$pid]'
	RUNNING=$((RUNNING - 1))
	[ "${EXCL[i]}" = 0 ] || RUNNING_EXCL=0
	finish_suite "$i" "$rc"
done
T_END=$(now_us)

echo
bad=$(grep -E '^\[[^]]*\] (not ok|skip) ' "$results")
[ -z "$bad" ] || printf '%s\n\n' "$bad"
if [ "${#SECS[@]}" -gt 0 ]; then
	echo "Slowest suites:"
	for i in "${!SECS[@]}"; do printf '%s %s\n' "${SECS[i]}" "$i"; done | sort -k1,1nr | head -n 10 |
		while read -r us i; do printf '%8s s  %s\n' "$(us_to_s "$us")" "${LABEL[i]}"; done
fi
total=0
for us in "${SECS[@]}"; do total=$((total + us)); done
echo "Wall time: $(us_to_s $((T_END - T_START))) s for ${#SECS[@]} suites ($(us_to_s "$total") s of suite time, $jobs_max at a time)"
# cmocka's TAP numbers its lines ("ok 3 - name"): count by the leading word only.
passed=$(grep -cE '^\[[^]]*\] ok ' "$results")
failed=$(grep -cE '^\[[^]]*\] not ok ' "$results")
skipped=$(grep -cE '^\[[^]]*\] skip ' "$results")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
