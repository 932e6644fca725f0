#!/bin/sh
# Runs the spec suite under the sanitizers: sanitized_specs.sh REPORT_PREFIX COMMAND...
# LeakSanitizer's leak check at a process's exit stops every thread with a tracer, and
# that tracer itself can crash ("Tracer caught signal 11": a fault of the sanitizer
# runtime, which then reports nothing about the program; the Makefile's
# intercept_tls_get_addr=0 removes the cause seen here, this is the fallback). It can hit any
# process of the run (the specs' lua5.4, an sbxd, a child), so the specs may pass and
# still leave its report; it has come in two runs in a row. When such crashes are the
# only reports of a run, failed or not, the run is made again, up to three runs in all;
# any other report, or a failure without reports, fails the check (the caller fails on
# any report file left).
prefix=$1
shift
RUNS=3

# True when there are report files and every one is only a tracer crash.
only_tracer_crashes() {
  found=no
  for f in "$prefix".*; do
    [ -e "$f" ] || continue
    found=yes
    grep -q "LeakSanitizer has encountered a fatal error" "$f" || return 1
    grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer: detected\)\|runtime error" "$f" && return 1
  done
  [ $found = yes ]
}

run=1
while :; do
  "$@"
  status=$?
  if ! only_tracer_crashes; then
    # a failed spec may be a sanitizer's exit (status 1): its report says why
    for f in "$prefix".*; do [ -e "$f" ] && cat "$f"; done
    exit $status
  fi
  echo "LeakSanitizer's tracer crashed at a process exit (a sanitizer runtime fault, not a finding):"
  cat "$prefix".*
  [ $run -lt $RUNS ] || exit 1
  rm -f "$prefix".*
  run=$((run + 1))
  echo "running the specs again (run $run of $RUNS)"
done
