#!/usr/bin/env python3
"""Runs a shell command line on a pseudo-terminal of its own, as a user at a terminal
would, and reports what the terminal saw.

    pty_run.py COLS ROWS STEPS COMMAND

STEPS is a JSON array, done in order:
    {"expect": REGEX}        wait (at most 10 s) until the output so far matches
    {"send": TEXT}           type TEXT (code points 0..255 are the bytes)
    {"resize": [COLS, ROWS]} resize the terminal (its foreground group gets SIGWINCH)
    {"signal": NAME}         send signal NAME to the command line's process
    {"attrs": NAME}          note the terminal's settings now, under NAME
Then it waits (at most 15 s) for the process to end and prints one JSON object:
    {"output": BASE64, "status": EXIT_CODE or -SIGNAL, "attrs": {NAME: SETTINGS}}
with the settings before the process started as "initial" and after it ended as "final".
The terminal stays open here until the end, so its settings can be read after the
process is gone.
"""
import base64
import fcntl
import json
import os
import re
import select
import signal
import struct
import sys
import termios
import time


def settings(fd):
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
    return {"iflag": iflag, "oflag": oflag, "cflag": cflag, "lflag": lflag,
            "icanon": bool(lflag & termios.ICANON), "echo": bool(lflag & termios.ECHO),
            "isig": bool(lflag & termios.ISIG), "cc": [c if isinstance(c, int) else ord(c) for c in cc]}


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def start(command, slave):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execvp("sh", ["sh", "-c", command])
    return pid


def main():
    cols, rows, steps, command = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    master, slave = os.openpty()
    set_size(slave, cols, rows)
    attrs = {"initial": settings(slave)}
    pid = start(command, slave)
    output = bytearray()
    status = None

    def pump(until):
        nonlocal status
        while time.monotonic() < until:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    output.extend(os.read(master, 65536))
                except OSError:
                    pass
            elif status is not None:
                return
            if status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
            yield

    for step in steps:
        if "expect" in step:
            pattern = re.compile(step["expect"].encode("latin-1"))
            for _ in pump(time.monotonic() + 10):
                if pattern.search(output):
                    break
            else:
                break
        elif "send" in step:
            os.write(master, step["send"].encode("latin-1"))
        elif "resize" in step:
            set_size(master, *step["resize"])
        elif "signal" in step:
            os.kill(pid, getattr(signal, step["signal"]))
        elif "attrs" in step:
            attrs[step["attrs"]] = settings(master)
    for _ in pump(time.monotonic() + 15):
        pass
    if status is None:
        os.kill(pid, signal.SIGKILL)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    attrs["final"] = settings(master)
    print(json.dumps({"output": base64.b64encode(bytes(output)).decode(), "status": status,
                      "attrs": attrs}))


main()
