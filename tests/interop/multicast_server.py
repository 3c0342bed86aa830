"""Twisted's multicast server from the howto, kept on the loopback interface."""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

import common


class MulticastServer(DatagramProtocol):
    def __init__(self, group, interface):
        self.group, self.interface = group, interface

    def startProtocol(self):
        self.transport.setTTL(1)
        d = self.transport.setOutgoingInterface(self.interface)
        d.addCallback(lambda _: self.transport.joinGroup(self.group, self.interface))
        d.addCallback(lambda _: common.ready(self.transport.getHost().port))

    def datagramReceived(self, datagram, address):
        if datagram == b"UniqueID":
            common.say("Server Received: " + repr(datagram))
            self.transport.write(b"data", address)


def main():
    p = common.parser(__doc__)
    p.add_argument("--group", default="225.0.0.250")
    args = p.parse_args()
    reactor.listenMulticast(args.port, MulticastServer(args.group, args.interface), listenMultiple=True)
    common.stop_after(reactor, args.seconds)
    reactor.run()


main()
