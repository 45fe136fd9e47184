#!/usr/bin/perl
# A PXE firmware's first steps, in perl-base alone: tests/deploy/install.test.sh copies it into
# the Debian tree and runs it there, under systemd in QEMU, from a network namespace holding the
# second NIC, to check that the hardened dnsmasq and tftp-hpa units serve.
#   pxe-client dhcp IFACE [ADDRESS]  DHCPDISCOVER as a BIOS PXE ROM, from port 68 on IFACE; with
#                                    full DHCP the offered address is requested (DHCPREQUEST,
#                                    DHCPACK); with proxy-DHCP the boot server is asked on port
#                                    4011 from ADDRESS (the address the site's DHCP gave)
#   pxe-client tftp SERVER FILE OUT [PAUSE]
#                                    a TFTP read (RFC 1350, octet mode) into OUT; with PAUSE, the
#                                    first block is acknowledged PAUSE seconds late (the server
#                                    sends it again meanwhile), to look at the server mid-transfer;
#                                    "tftp holding block 1" says when
# Prints one line per answer ("offer ...", "ack ...", "boot ...", "tftp ..."); exit 1 on none.
use strict; use warnings; use Socket;
my $mode = shift @ARGV // '';
# wait_reply SOCKET XID SECONDS TYPES: the next BOOTREPLY with that xid whose DHCP message type
# is one of TYPES (2 offer, 5 ack, 6 nak): (packet, options, sender).
sub wait_reply {
	my ($s, $xid, $secs, @types) = @_;
	my $end = time + $secs;
	while ((my $left = $end - time) > 0) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $rout = $rin, undef, undef, $left) or last;
		my $from = recv($s, my $buf, 1500, 0);
		next unless defined $from && length $buf > 240;
		my ($op, $rxid) = unpack('C x3 N', $buf);
		next unless $op == 2 && $rxid == $xid && substr($buf, 236, 4) eq pack('C4', 99, 130, 83, 99);
		my (%opt, $i);
		for ($i = 240; $i < length $buf; ) {
			my $code = ord substr($buf, $i, 1);
			last if $code == 255;
			if ($code == 0) { $i++; next }
			my $len = ord substr($buf, $i + 1, 1);
			$opt{$code} = substr($buf, $i + 2, $len);
			$i += 2 + $len;
		}
		my $type = ord($opt{53} // "\0");
		next unless grep { $_ == $type } @types;
		return ($buf, \%opt, (sockaddr_in($from))[1]);
	}
	return;
}
sub field { my ($buf, $off) = @_; inet_ntoa(substr($buf, $off, 4)) }
sub file { unpack('Z128', substr($_[0], 108, 128)) }
if ($mode eq 'dhcp') {
	my ($if, $ciaddr) = @ARGV;
	socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
	setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
	setsockopt($s, SOL_SOCKET, SO_BROADCAST, 1) or die "SO_BROADCAST: $!";
	setsockopt($s, SOL_SOCKET, 25, pack('Z*', $if)) or die "SO_BINDTODEVICE $if: $!";
	bind($s, sockaddr_in(68, INADDR_ANY)) or die "bind port 68: $!";
	my $xid = int(rand(2**31));
	my $vc = 'PXEClient:Arch:00000:UNDI:002001';
	# packet TYPE, CIADDR, OPTIONS: a BOOTREQUEST (broadcast flag set) from MAC 52:54:00:a0:b0:c0.
	my $packet = sub {
		my ($type, $ci, $more) = @_;
		pack('CCCCNnna4a4a4a4a16a64a128', 1, 1, 6, 0, $xid, 0, 0x8000, inet_aton($ci), "\0" x 4,
			"\0" x 4, "\0" x 4, pack('H12', '525400a0b0c0'), '', '')
		. pack('C4', 99, 130, 83, 99) . pack('CCC', 53, 1, $type)
		. pack('CCn', 93, 2, 0) . pack('CCCCC', 94, 3, 1, 2, 1)
		. pack('CCC', 97, 17, 0) . ("\x11" x 16)
		. pack('CC', 60, length $vc) . $vc . $more . pack('C', 255);
	};
	my ($buf, $opt, $server);
	for (1 .. 5) {
		send($s, $packet->(1, '0.0.0.0', ''), 0, sockaddr_in(67, INADDR_BROADCAST)) or die "send: $!";
		($buf, $opt, $server) = wait_reply($s, $xid, 4, 2);
		last if $buf;
	}
	$buf or do { print "no offer\n"; exit 1 };
	my $menu = ($opt->{43} // '') =~ /Anemos/ ? 'Anemos' : 'none';
	my $yiaddr = field($buf, 16);
	print "offer from ", inet_ntoa($server), " address $yiaddr file '", file($buf), "' menu $menu\n";
	if ($yiaddr ne '0.0.0.0') {
		# Full DHCP: take the address (DHCPREQUEST naming the server; DHCPACK).
		my $more = pack('CC', 50, 4) . inet_aton($yiaddr) . pack('CC', 54, 4) . ($opt->{54} // $server);
		send($s, $packet->(3, '0.0.0.0', $more), 0, sockaddr_in(67, INADDR_BROADCAST)) or die "send: $!";
		my ($ack, $aopt) = wait_reply($s, $xid, 4, 5, 6);
		$ack or do { print "no ack\n"; exit 1 };
		ord($aopt->{53}) == 5 or do { print "nak\n"; exit 1 };
		print "ack address ", field($ack, 16), " file '", file($ack), "' next-server ", field($ack, 20), "\n";
		exit 0;
	}
	# Proxy-DHCP (PXE 2.1 boot server discovery): item 0x8000 asked of the boot server's port 4011.
	defined $ciaddr or do { print "proxy offer: give the client's address to ask port 4011\n"; exit 1 };
	send($s, $packet->(3, $ciaddr, pack('CCCCnn', 43, 6, 71, 4, 0x8000, 0)), 0, sockaddr_in(4011, $server))
		or die "send to port 4011: $!";
	my ($ack) = wait_reply($s, $xid, 4, 5);
	$ack or do { print "no answer from port 4011\n"; exit 1 };
	print "boot file '", file($ack), "' next-server ", field($ack, 20), "\n";
	exit 0;
} elsif ($mode eq 'tftp') {
	my ($server, $name, $out, $pause) = @ARGV;
	socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
	bind($s, sockaddr_in(0, INADDR_ANY)) or die "bind: $!";
	send($s, pack('n', 1) . "$name\0octet\0", 0, sockaddr_in(69, inet_aton($server))) or die "send: $!";
	open(my $fh, '>', $out) or die "$out: $!";
	binmode $fh;
	my $want = 1;
	while (1) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $rout = $rin, undef, undef, 5) or do { print "tftp timeout at block $want\n"; exit 1 };
		my $from = recv($s, my $buf, 1024, 0);
		my ($op, $n) = unpack('nn', $buf);
		if ($op == 5) { print "tftp error $n: ", unpack('Z*', substr($buf, 4)), "\n"; exit 1 }
		next unless $op == 3;
		if ($pause && $n == 1) { $| = 1; print "tftp holding block 1\n"; sleep $pause; $pause = 0 }
		send($s, pack('nn', 4, $n), 0, $from);
		if ($n == $want) { print $fh substr($buf, 4); $want++ }
		last if $n == $want - 1 && length($buf) < 516;
	}
	close $fh;
	print "tftp got ", -s $out, " bytes\n";
	exit 0;
}
print "usage: pxe-client dhcp IFACE [ADDRESS] | tftp SERVER FILE OUT [PAUSE]\n";
exit 2;
