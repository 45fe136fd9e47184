#!/usr/bin/env python3
"""Sends one DHCPDISCOVER the way a network-boot client does and prints what the offer says.

  dhcp-probe.py IFACE MAC ARCH [--vendor CLASS] [--user-class CLASS]

ARCH is the client system architecture of option 93 (0 BIOS, 7 x86-64 UEFI, 11 arm64 UEFI,
16 x86-64 UEFI HTTP boot), or "none" to send no option 93 (old BIOS PXE ROMs). The vendor class (option 60) defaults to PXE's
"PXEClient:Arch:NNNNN:UNDI:003016". Prints one JSON object: the offered address, the
next-server (siaddr), the boot file (the BOOTP file field, or option 67) and option 60 as
the server sent it. Waits at most 5 s; exits 1 without an offer. For the tests' own network
namespaces only: the interface is the one named, the broadcast stays on its segment.
"""
import json
import os
import random
import socket
import struct
import sys
import time


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    iface, mac = args[0], bytes.fromhex(args[1].replace(":", ""))
    arch = None if args[2] == "none" else int(args[2])
    vendor = "PXEClient:Arch:%05d:UNDI:003016" % (arch or 0)
    user_class = None
    rest = args[3:]
    while rest:
        if rest[0] == "--vendor":
            vendor = rest[1]
        elif rest[0] == "--user-class":
            user_class = rest[1]
        else:
            sys.exit("unknown option " + rest[0])
        rest = rest[2:]

    xid = random.getrandbits(32)
    # BOOTP header: op, htype, hlen, hops, xid, secs, flags (broadcast), ciaddr..giaddr, chaddr
    packet = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                         b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                         b"\0" * 64, b"\0" * 128)
    options = b"\x63\x82\x53\x63" + bytes([53, 1, 1])
    if arch is not None:
        options += bytes([93, 2]) + struct.pack("!H", arch)
    options += bytes([94, 3, 1, 3, 16])                      # UNDI 3.16
    options += bytes([97, 17, 0]) + os.urandom(16)           # client machine identifier
    options += bytes([60, len(vendor)]) + vendor.encode()
    if user_class:
        options += bytes([77, len(user_class)]) + user_class.encode()
        options += bytes([175, 3, 0xb1, 1, 1])               # iPXE's encapsulated options
    options += bytes([55, 8, 1, 3, 6, 43, 60, 66, 67, 97])
    options += b"\xff"

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("", 68))
    s.sendto(packet + options, ("255.255.255.255", 67))
    deadline = time.time() + 5
    while time.time() < deadline:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            break
        if len(data) < 240 or struct.unpack("!I", data[4:8])[0] != xid or data[0] != 2:
            continue
        yiaddr = socket.inet_ntoa(data[16:20])
        siaddr = socket.inet_ntoa(data[20:24])
        file_field = data[108:236].split(b"\0")[0].decode(errors="replace")
        opts, i = {}, 240
        while i < len(data) and data[i] != 255:
            if data[i] == 0:
                i += 1
                continue
            code, length = data[i], data[i + 1]
            opts[code] = data[i + 2:i + 2 + length]
            i += 2 + length
        if opts.get(53) != b"\x02":
            continue
        print(json.dumps({
            "address": yiaddr,
            "next_server": siaddr,
            "file": (opts[67].split(b"\0")[0].decode() if 67 in opts else file_field),
            "vendor_class": opts[60].decode(errors="replace") if 60 in opts else None,
        }))
        return 0
    print("no DHCPOFFER within 5 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
