#!/usr/bin/env python3
"""Runs the pyinfra CLI, appending "<kind> <host address>" to $EXEC_LOG for every SSH session
it opens on a target: each paramiko `exec_command` (one command) and each SFTP session (uploads)."""
import os
import sys

import paramiko

LOG = open(os.environ["EXEC_LOG"], "a", buffering=1)


def peer(transport):
    try:
        return transport.getpeername()[0]
    except Exception:
        return "?"


_exec = paramiko.SSHClient.exec_command


def exec_command(self, *a, **kw):
    LOG.write(f"exec {peer(self.get_transport())}\n")
    return _exec(self, *a, **kw)


paramiko.SSHClient.exec_command = exec_command
_sftp = paramiko.SFTPClient.from_transport.__func__


def from_transport(cls, t, *a, **kw):
    LOG.write(f"sftp {peer(t)}\n")
    return _sftp(cls, t, *a, **kw)


paramiko.SFTPClient.from_transport = classmethod(from_transport)

from pyinfra_cli.main import main  # noqa: E402

sys.argv[0] = "pyinfra"
sys.exit(main())
