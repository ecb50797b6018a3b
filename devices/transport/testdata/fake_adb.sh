#!/bin/sh
# A stand-in for adb in tests. It understands what the adb transport runs:
#   adb [-s SERIAL] shell [-T] COMMAND-STRING   runs the string with sh -c, as adbd does
#   adb [-s SERIAL] push LOCAL REMOTE           copies the file
# Serial "offline" fails as a disconnected device does.
serial=
if [ "$1" = "-s" ]; then serial=$2; shift 2; fi
if [ "$serial" = offline ]; then
	echo "error: device offline" >&2
	exit 1
fi
sub=$1
shift
case "$sub" in
shell)
	if [ "$1" = "-T" ]; then shift; fi
	if [ $# -ne 1 ]; then
		echo "fake adb: want one command string after shell, got $#" >&2
		exit 2
	fi
	exec sh -c "$1"
	;;
push)
	cp -- "$1" "$2" && echo "$1: 1 file pushed."
	;;
*)
	echo "fake adb: unknown command $sub" >&2
	exit 2
	;;
esac
