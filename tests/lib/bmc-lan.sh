#!/bin/sh
# ipmi_sim's lan_config_program (tests/lib/bmc.sh with BMC_ADDR): ipmi_sim runs it as
# "PROG get NAME..." and reads one "NAME:VALUE" line per name; the values are in
# $BMC_DIR/lan, as bmc_start wrote them. Setting them ("set") is accepted and ignored.
[ "$1" = get ] || exit 0
shift
for v in "$@"; do
	grep "^$v:" "${BMC_DIR:?}/lan" || { echo "unknown LAN setting $v" >&2; exit 1; }
done
