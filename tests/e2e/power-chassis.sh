#!/bin/sh
# ipmi_sim's chassis_control program for a QEMU machine (tests/e2e/power.test.sh): power on
# starts QEMU with the arguments in $BMC_DIR/qemu.args (one a line), daemonized with a pid
# file; power off stops that process (TERM, then KILL). A pending one-time boot device pxe
# makes that start boot the network once (-boot order=c,once=n: the machine's own reboot
# then goes to the disk, as after a real BMC's one-time network boot). ipmi_sim calls this
# synchronously, so each call returns at once; QEMU's output goes to the files its
# arguments name. Each call is logged in $BMC_DIR/chassis.log.
d=${BMC_DIR:?}
echo "$*" >>"$d/chassis.log"
running() { [ -s "$d/qemu.pid" ] && kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null; }
start() {
	running && return 0
	once=""
	[ "$(cat "$d/boot" 2>/dev/null)" = pxe ] && once=",once=n"
	rm -f "$d/boot" "$d/qemu.pid"
	set --
	while IFS= read -r a; do set -- "$@" "$a"; done <"$d/qemu.args"
	echo "start: -boot order=c$once" >>"$d/chassis.log"
	qemu-system-x86_64 "$@" -boot "order=c$once" -daemonize -pidfile "$d/qemu.pid" \
		</dev/null >>"$d/qemu.err" 2>&1
}
stop() {
	running || return 0
	pid=$(cat "$d/qemu.pid")
	kill "$pid" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$pid" 2>/dev/null
	rm -f "$d/qemu.pid"
}
case "$1 $2" in
"get power") if running; then echo "power:1"; else echo "power:0"; fi ;;
"get boot") echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)" ;;
"set power") if [ "$3" = 1 ]; then start; else stop; fi ;;
"set boot") echo "$3" >"$d/boot" ;;
"set reset") stop; start ;;
esac
exit 0
