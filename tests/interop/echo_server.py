"""Twisted's echo server from the UDP howto (Python 3 spelling), for the interop tests."""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

import common


class Echo(DatagramProtocol):
    def datagramReceived(self, data, addr):
        self.transport.write(data, addr)


def main():
    args = common.parser(__doc__).parse_args()
    port = reactor.listenUDP(args.port, Echo(), interface=args.interface, maxPacketSize=65535)
    common.ready(port.getHost().port)
    common.stop_after(reactor, args.seconds)
    reactor.run()


main()
