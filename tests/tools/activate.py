#!/usr/bin/env python3
"""A small socket activator for the tests: binds a listening TCP socket on
127.0.0.1 (port 0), prints the port, and runs a command that inherits it.

  activate.py systemd CMD...   the socket is fd 3, with LISTEN_FDS=1 and LISTEN_PID (systemd)
  activate.py inetd CMD...     the socket is fd 0 (inetd "wait" mode)

It exits with the command's status.
"""
import os
import signal
import socket
import subprocess
import sys

mode, command = sys.argv[1], sys.argv[2:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)

if mode == "systemd":
    os.dup2(listener.fileno(), 3)
    os.set_inheritable(3, True)
    env = dict(os.environ, LISTEN_FDS="1")
    # LISTEN_PID must be the activated process's own pid: the shell sets it, then execs.
    wrapped = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", *command]
    child = subprocess.Popen(wrapped, pass_fds=(3,), env=env, stdin=subprocess.DEVNULL)
elif mode == "inetd":
    child = subprocess.Popen(command, stdin=listener.fileno())
else:
    sys.exit(f"activate.py: mode must be systemd or inetd, not {mode}")
listener.close()
# Signals are for the activated process, as under systemd or inetd.
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda number, _frame: child.send_signal(number))
sys.exit(child.wait())
