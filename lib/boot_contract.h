/*
 * The boot contract: the kernel arguments that carry an Anemos boot, from whoever boots the
 * Anemos initramfs (iPXE's agent.ipxe, anemosd's /kexec.sh arming, anemosctl deploy) to the
 * one that reads them (/init and anemos-agent). Every word named here is the only spelling;
 * the lint suite (tests/integration/lint.test.sh) checks that the iPXE templates, the shell
 * scripts and the C sources use no anemos.WORD this file does not define.
 *
 *   anemos.url=URL      anemosd's base URL (the agent's API, the boot files); absent with
 *                       anemosctl deploy, which has no server
 *   anemos.token=T      this boot's agent token (iPXE boots only: a kexec boot gets its token
 *                       over SSH, never on a command line that `ps` or /proc shows)
 *   anemos.mode=M       discover, install, rescue (lib/lifecycle.h's actions), or deploy
 *   anemos.mac=MAC      the NIC the boot came from (iPXE's ${mac}, or the one kexec.sh found)
 *   anemos.net=SPEC     the network carried over from the system that kexec'd: dhcp, or
 *                       static,ADDRESS/N[+ADDRESS/N...],GATEWAY[+GATEWAY...],DNS[+DNS...][,FLAGS]
 *                       (both families; an IPv6 gateway may be link-local; FLAGS joined by
 *                       "+": auto6, router advertisements (SLAAC) too; dhcp6, DHCPv6 asked
 *                       without them; initramfs/agent/network.c reads it), or
 *                       dhcp,ADDRESS6/N[+...],GATEWAY6,DNS6[+...][,FLAGS]: DHCPv4, and the
 *                       IPv6 side beside it (clouds that give IPv4 by DHCP and a /64 or /128
 *                       of IPv6 by hand or by DHCPv6; the addresses may be empty with dhcp6)
 *   anemos.lldp=SECONDS how long a discover boot listens for its switch ports (LLDP) on
 *                       every NIC at once: 0-120, default 10, 0 = not at all
 */
#ifndef ANEMOS_BOOT_CONTRACT_H
#define ANEMOS_BOOT_CONTRACT_H

#define BOOT_ARG_URL   "anemos.url"
#define BOOT_ARG_TOKEN "anemos.token"
#define BOOT_ARG_MODE  "anemos.mode"
#define BOOT_ARG_MAC   "anemos.mac"
#define BOOT_ARG_NET   "anemos.net"
#define BOOT_ARG_LLDP  "anemos.lldp"

/* The console arguments the Anemos environment boots with unless told otherwise (anemosd
 * --kernel-args, anemosctl deploy --kernel-args): the screen and the first serial port. */
#define BOOT_CONSOLE_ARGS "console=tty0 console=ttyS0,115200n8"

/* What a failed install's report (and so a deploy's log) ends with when the failure came
 * before any disk was written, as a bad mirror signature does: anemosctl deploy looks for it
 * to say that a reboot starts the old system again. */
#define BOOT_DISK_UNTOUCHED "the disk was not touched"

#endif
