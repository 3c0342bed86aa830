"""Twisted's multicast client from the howto, kept on the loopback interface.

The seed sends from a plain listenUDP(0) port, whose multicast datagrams leave by the default
route's interface; this one uses listenMulticast(0) to set the loopback interface and TTL 1.
"""

import sys

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

import common

replies = []


class MulticastClient(DatagramProtocol):
    def __init__(self, group, port, interface):
        self.group, self.port, self.interface = group, port, interface

    def startProtocol(self):
        self.transport.setTTL(1)
        d = self.transport.setOutgoingInterface(self.interface)
        d.addCallback(lambda _: self.transport.write(b"UniqueID", (self.group, self.port)))

    def datagramReceived(self, datagram, address):
        common.say("Received: " + repr(datagram))
        replies.append(datagram)


def main():
    p = common.parser(__doc__)
    p.add_argument("--group", default="225.0.0.250")
    p.add_argument("--wait", type=float, default=2.0)
    args = p.parse_args()
    reactor.listenMulticast(0, MulticastClient(args.group, args.port, args.interface))
    common.stop_after(reactor, args.wait)
    reactor.run()
    sys.exit(0 if replies else 1)


main()
