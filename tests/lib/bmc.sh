# shellcheck shell=bash
# Simulated BMCs for power-control tests: OpenIPMI's ipmi_sim, a real IPMI 2.0 BMC on a
# loopback UDP port (see /work/shared/TESTING.md for what was measured about it). Sourced by
# bash suites after tests/integration/lib.sh (ROOT, WORK, free_port, `trap _cleanup EXIT`).
#
#   bmc_start NAME PASSWORD CHASSIS_PROG   starts BMC NAME (user "admin", PASSWORD) on a free
#                                          port; sets BMC_PORT_<NAME> and BMC_PID_<NAME>.
#                                          ipmi_sim runs CHASSIS_PROG for power and boot
#                                          device (get power|boot, set power 0|1, set boot
#                                          pxe|default|..., set reset 1) with BMC_DIR set to
#                                          $WORK/bmc-NAME; it must answer fast.
#                                          With BMC_ADDR set (a loopback address of its own,
#                                          127.x.y.z), it listens on BMC_ADDR port 623 instead,
#                                          and reports BMC_ADDR and BMC_MAC as its LAN settings
#                                          (tests/lib/bmc-lan.sh; static, netmask 255.0.0.0,
#                                          gateway 127.0.0.1): IPMI's LAN settings carry no
#                                          port, so a BMC found in-band is reached on 623. With
#                                          BMC_INBAND_PORT set, it also serves a QEMU machine's
#                                          in-band KCS interface on that TCP port of 127.0.0.1
#                                          (qemu: ipmi-bmc-extern + isa-ipmi-kcs; see
#                                          bmc_qemu_args).
#   bmc_qemu_args PORT                     prints QEMU's arguments (one a line) for a machine
#                                          whose BMC in-band is the one on PORT
#   bmc_stop NAME                          stops it (by PID)
#   bmc_stop_all                           stops every BMC bmc_start started
#
# bmc_start chains bmc_stop_all in front of whatever EXIT trap is set when it runs.
# A chassis program for machines without QEMU: tests/lib/bmc-chassis.sh (a state file).

_bmc_names=""

bmc_start() {
	local name=$1 password=$2 prog=$3 dir=$WORK/bmc-$1 port pid addr=127.0.0.1 lan="" serial=""
	port=$(free_port)
	mkdir -p "$dir/state"
	if [ -n "${BMC_ADDR:-}" ]; then
		addr=$BMC_ADDR port=623
		printf 'ip_addr:%s\nip_addr_src:static\nmac_addr:%s\nsubnet_mask:255.0.0.0\ndefault_gw_ip_addr:127.0.0.1\n' \
			"$BMC_ADDR" "${BMC_MAC:-52:54:00:b0:00:01}" >"$dir/lan"
		printf 'default_gw_mac_addr:00:00:00:00:00:00\nbackup_gw_ip_addr:0.0.0.0\nbackup_gw_mac_addr:00:00:00:00:00:00\n' \
			>>"$dir/lan"
		lan="    lan_config_program \"$ROOT/tests/lib/bmc-lan.sh\""
	fi
	[ -n "${BMC_INBAND_PORT:-}" ] && serial="  serial kcs 127.0.0.1 $BMC_INBAND_PORT codec VM"
	# ipmi_sim reads its chassis program's folder from the environment it was started with.
	cat >"$dir/lan.conf" <<EOF
name "anemos-$name"
set_working_mc 0x20
  startlan 1
    addr $addr $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
$lan
  endlan
$serial
  chassis_control "$prog"
  user 2 true "admin" "$password" admin 10 md5
EOF
	printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nmc_enable 0x20\n' \
		>"$dir/bmc.emu"
	BMC_DIR=$dir ipmi_sim -c "$dir/lan.conf" -f "$dir/bmc.emu" -s "$dir/state" -n \
		</dev/null >"$dir/sim.log" 2>&1 &
	pid=$!
	printf -v "BMC_PORT_$name" '%s' "$port"
	printf -v "BMC_HOST_$name" '%s' "$addr"
	printf -v "BMC_PID_$name" '%s' "$pid"
	_bmc_names="$_bmc_names $name"
	if [ -z "${_bmc_trap_set:-}" ]; then
		_bmc_trap_set=1
		# shellcheck disable=SC2064 # the trap in force now is meant
		trap "bmc_stop_all; $(trap -p EXIT | sed "s/^trap -- '\\(.*\\)' EXIT\$/\\1/")" EXIT
	fi
	# Bounded: the BMC answers a chassis status once it listens.
	for _ in $(seq 1 50); do
		IPMI_PASSWORD=$password ipmitool -I lanplus -C 3 -N 1 -R 1 -H "$addr" -p "$port" -U admin -E \
			chassis power status >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "# BMC $name did not start: $(tail -n 5 "$dir/sim.log")"
	return 1
}

bmc_qemu_args() {
	printf '%s\n' -chardev "socket,id=ipmi0,host=127.0.0.1,port=$1,reconnect=10" \
		-device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0
}

bmc_stop() {
	local var=BMC_PID_$1
	[ -n "${!var:-}" ] || return 0
	kill "${!var}" 2>/dev/null
	wait "${!var}" 2>/dev/null
	printf -v "$var" '%s' ""
}

bmc_stop_all() {
	local n
	for n in $_bmc_names; do bmc_stop "$n"; done
}
