"""Counts numbered datagrams until END; says how many arrived and which numbers are missing."""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

import common


class Counter(DatagramProtocol):
    def __init__(self):
        self.seen = set()
        self.count = 0

    def datagramReceived(self, data, addr):
        if data == b"END":
            top = max(self.seen) + 1 if self.seen else 0
            missing = [n for n in range(top) if n not in self.seen]
            common.say("GOT", self.count, "MISSING", len(missing))
            reactor.stop()
            return
        self.count += 1
        self.seen.add(int(data))


def main():
    args = common.parser(__doc__).parse_args()
    port = reactor.listenUDP(args.port, Counter(), interface=args.interface)
    common.ready(port.getHost().port)
    common.stop_after(reactor, args.seconds)
    reactor.run()


main()
