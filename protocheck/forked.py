"""A forked child that computes some bytes and hands them back through a pipe (the protocol loaded ahead, console
sections rendered beside the main process)."""
from __future__ import annotations

import os
from typing import Callable


def fork_writer(produce: Callable[[], bytes]) -> tuple[int, int]:
    """Fork a child that writes ``produce()`` to a pipe and leaves at once (nothing of the parent's flushed or
    closed; exit status 1 if ``produce`` raised): (the child's pid, the pipe's read end). OSError if no fork."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:   # the child
        code = 1
        try:
            os.close(read_end)
            data = produce()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end
