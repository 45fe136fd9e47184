#!/bin/sh
# ipmi_sim's chassis_control program for a machine without QEMU: its power is the file
# $BMC_DIR/power (1 or 0), its one-time boot device $BMC_DIR/boot; each call is logged in
# $BMC_DIR/chassis.log. With $BMC_DIR/slow holding N, each call first sleeps N seconds (a BMC
# that answers slowly: ipmi_sim waits for this program).
d=${BMC_DIR:?}
echo "$*" >>"$d/chassis.log"
[ -f "$d/slow" ] && sleep "$(cat "$d/slow")"
case "$1 $2" in
"get power") echo "power:$(cat "$d/power" 2>/dev/null || echo 0)" ;;
"get boot") echo "boot:$(cat "$d/boot" 2>/dev/null || echo default)" ;;
"set power") echo "$3" >"$d/power" ;;
"set boot") echo "$3" >"$d/boot" ;;
"set reset") ;;
esac
exit 0
