#!/bin/sh
# anemos-hostkeys DIR: makes each SSH host key in DIR exist in both formats, so that the
# machine keeps its identity whichever SSH server answers: dropbear in the Anemos environment
# and on the busybox images, OpenSSH on the Debian ones. DIR holds what kexec.sh carried over
# from the old system (etc/anemos-deploy/hostkeys/): OpenSSH's ssh_host_TYPE_key (and .pub)
# and dropbear's dropbear_TYPE_host_key, for TYPE ed25519, ecdsa and rsa. A key of one format
# without its counterpart gets one, made with dropbearconvert (private keys 0600, public 0644);
# an existing counterpart is left as it is. Prints one line a key made; a key that does not
# convert is said and skipped. Exit status 0 unless DIR is missing.
set -u
dir=${1:-}
[ -n "$dir" ] && [ -d "$dir" ] || { echo "usage: anemos-hostkeys DIR" >&2; exit 2; }
umask 077
for type in ed25519 ecdsa rsa; do
	ossh=$dir/ssh_host_${type}_key db=$dir/dropbear_${type}_host_key
	if [ -s "$ossh" ] && [ ! -e "$db" ]; then
		if dropbearconvert openssh dropbear "$ossh" "$db.new" >/dev/null 2>&1; then
			mv "$db.new" "$db" && echo "anemos-hostkeys: dropbear's $type key made from OpenSSH's"
		else
			rm -f "$db.new"; echo "anemos-hostkeys: OpenSSH's $type key does not convert for dropbear" >&2
		fi
	elif [ -s "$db" ] && [ ! -e "$ossh" ]; then
		if dropbearconvert dropbear openssh "$db" "$ossh.new" >/dev/null 2>&1 &&
		   dropbearkey -y -f "$db" 2>/dev/null | grep -E '^(ssh-|ecdsa-)' >"$ossh.pub.new" && [ -s "$ossh.pub.new" ]; then
			chmod 644 "$ossh.pub.new"
			mv "$ossh.new" "$ossh" && mv "$ossh.pub.new" "$ossh.pub" &&
				echo "anemos-hostkeys: OpenSSH's $type key made from dropbear's"
		else
			rm -f "$ossh.new" "$ossh.pub.new"
			echo "anemos-hostkeys: dropbear's $type key does not convert for OpenSSH" >&2
		fi
	fi
done
exit 0
