#!/bin/sh
# Runs the spec suite under the sanitizers: sanitized_specs.sh REPORT_PREFIX COMMAND...
# LeakSanitizer's leak check at a process's exit stops every thread with a tracer, and
# that tracer itself sometimes crashes ("Tracer caught signal 11": a fault of the
# sanitizer runtime, which then reports nothing about the program). When that is the
# only report of a failed run, the run is made once more; any other report, or a second
# failure, fails the check.
prefix=$1
shift
"$@" && exit 0
status=$?
for f in "$prefix".*; do
  [ -e "$f" ] || exit $status
  grep -q "LeakSanitizer has encountered a fatal error" "$f" || exit $status
  grep -q "ERROR: \(AddressSanitizer\|LeakSanitizer: detected\)\|runtime error" "$f" && exit $status
done
echo "LeakSanitizer's tracer crashed at a process exit (a sanitizer runtime fault, not a finding):"
cat "$prefix".*
rm -f "$prefix".*
echo "running the specs once more"
exec "$@"
