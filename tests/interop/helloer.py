"""Twisted's connected-UDP Helloer from the howto.

It runs on the select reactor: on Linux's default epoll reactor an ICMP refusal that arrives
as POLLERR closes the port instead of calling connectionRefused (Twisted #5377, #6287, #6467).
"""

import sys

from twisted.internet import selectreactor

selectreactor.install()

from twisted.internet import reactor  # noqa: E402
from twisted.internet.protocol import DatagramProtocol  # noqa: E402

import common  # noqa: E402

outcome = {"reply": False}


class Helloer(DatagramProtocol):
    def __init__(self, host, port):
        self.host, self.port = host, port

    def startProtocol(self):
        self.transport.connect(self.host, self.port)
        common.say("now we can only send to host %s port %d" % (self.host, self.port))
        self.transport.write(b"hello")

    def datagramReceived(self, data, addr):
        common.say("received %r from %s" % (data, addr[0]))
        outcome["reply"] = True
        reactor.stop()

    def connectionRefused(self):
        common.say("No one listening")
        reactor.stop()


def main():
    args = common.parser(__doc__).parse_args()
    reactor.listenUDP(0, Helloer(args.host, args.port), interface=args.interface)
    common.stop_after(reactor, args.seconds)
    reactor.run()
    sys.exit(0 if outcome["reply"] else 1)


main()
