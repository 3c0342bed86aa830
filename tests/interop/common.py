"""Shared by the interop scripts: argument parsing and a READY line the Rust driver waits for."""

import argparse
import sys


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--interface", default="127.0.0.1")
    p.add_argument("--seconds", type=float, default=20.0, help="stop after this long")
    return p


def say(*words):
    print(*words, flush=True)


def ready(port):
    """Tell the driver which port we are on; it waits for this line."""
    say("READY", port)


def stop_after(reactor, seconds):
    reactor.callLater(seconds, reactor.stop)


if __name__ == "__main__":
    sys.exit("a module, not a script")
