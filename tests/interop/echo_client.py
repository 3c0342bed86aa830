"""Sends datagrams of every size to an echo server one at a time and checks each echo, byte for byte."""

import sys

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

import common


def payload(i, size):
    return bytes((i * 7 + j) % 256 for j in range(size))


def sizes(count, big):
    out = [i * 1472 // (count - 1) for i in range(count)]
    return out + [big] if big else out


class Checker(DatagramProtocol):
    def __init__(self, server, plan):
        self.server, self.plan, self.i, self.tries, self.failed = server, plan, 0, 0, None
        self.timer = None

    def startProtocol(self):
        self.send()

    def send(self):
        if self.i == len(self.plan):
            common.say("OK", len(self.plan))
            reactor.stop()
            return
        self.transport.write(payload(self.i, self.plan[self.i]), self.server)
        self.timer = reactor.callLater(1.0, self.timeout)

    def timeout(self):
        self.tries += 1
        if self.tries > 3:
            self.fail("no echo for datagram %d (%d bytes)" % (self.i, self.plan[self.i]))
        else:
            self.send()

    def datagramReceived(self, data, addr):
        if self.failed:
            return
        expected = payload(self.i, self.plan[self.i])
        if data != expected:
            return self.fail("datagram %d: got %d bytes, expected %d" % (self.i, len(data), len(expected)))
        if addr[:2] != self.server[:2]:
            return self.fail("echo from %r, expected %r" % (addr, self.server))
        self.timer.cancel()
        self.i, self.tries = self.i + 1, 0
        self.send()

    def fail(self, why):
        self.failed = why
        common.say("FAIL", why)
        reactor.stop()


def main():
    p = common.parser(__doc__)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--big", type=int, default=65507)
    args = p.parse_args()
    checker = Checker((args.host, args.port), sizes(args.count, args.big))
    reactor.listenUDP(0, checker, interface=args.interface, maxPacketSize=65535)
    common.stop_after(reactor, args.seconds)
    reactor.run()
    sys.exit(0 if checker.i == len(checker.plan) and not checker.failed else 1)


main()
