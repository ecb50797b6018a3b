#!/bin/sh
# A stand-in agent for tests, speaking the agent protocol in POSIX sh.
#   fake_agent.sh MODE [MARKDIR]
# MODE ok: a hello, then per request (by the arch's name):
#   "slow"     touches MARKDIR/slow (if given), then sleeps 60s
#   "crash"    writes a traceback to stderr and exits 3 without answering
#   "garbled"  answers a line that is not JSON
#   "wrongid"  answers with another id
#   "error"    answers with an error
#   "noisy"    answers after a stray line on stdout (a protocol violation)
#   anything else: 3 samples; a count request: MACs and params
# Other modes misbehave at the hello: nohello, badproto, helloerror, exit, silent.
mode=${1:-ok}
mark=$2
case "$mode" in
nohello) echo "Loading model..." ;;
badproto) echo '{"hello":"blockprof-agent","protocol":99}' ;;
helloerror)
	echo '{"hello":"blockprof-agent","protocol":1,"error":"cannot import torch with /usr/bin/python3: ModuleNotFoundError: No module named '"'"'torch'"'"'"}'
	exit 1
	;;
exit)
	echo "python3: can't open file 'torch_agent.py': [Errno 2] No such file or directory" >&2
	exit 2
	;;
silent) exec sleep 60 ;;
ok)
	echo '{"hello":"blockprof-agent","protocol":1,"agent":"fake_agent.sh","version":"0.1","runtime":"fake","runtime_version":"9.9","host":"fakehost","cpu":"Fake CPU","threads":3,"cuda":true,"gpu":"Fake GPU","cuda_version":"12.4","targets":["cpu","cuda"]}'
	;;
*)
	echo "fake_agent.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
[ "$mode" = ok ] || { sleep 60; exit 0; }
while IFS= read -r line; do
	id=$(printf '%s\n' "$line" | sed -n 's/^{"id":\([0-9]*\).*/\1/p')
	case "$line" in
	*'"count":true'*) echo '{"id":'"$id"',"macs":1000,"params":200,"layers":4}' ;;
	*'"arch":"slow"'*)
		[ -n "$mark" ] && touch "$mark/slow"
		sleep 60
		;;
	*'"arch":"crash"'*)
		echo "Traceback (most recent call last):" >&2
		echo "RuntimeError: CUDA error: an illegal memory access was encountered" >&2
		exit 3
		;;
	*'"arch":"garbled"'*) echo 'Segmentation fault (core dumped) {{{' ;;
	*'"arch":"wrongid"'*) echo '{"id":'"$((id + 100))"',"samples_ms":[1]}' ;;
	*'"arch":"error"'*) echo '{"id":'"$id"',"error":"RuntimeError: CUDA out of memory"}' ;;
	*'"arch":"noisy"'*)
		echo 'warning: something'
		echo '{"id":'"$id"',"samples_ms":[1,2,3],"warmup":2,"mode":"cuda-graph"}'
		;;
	*) echo '{"id":'"$id"',"samples_ms":[1.5,1.25,1.75],"warmup":2,"mode":"cuda-graph","device":"Fake GPU"}' ;;
	esac
done
