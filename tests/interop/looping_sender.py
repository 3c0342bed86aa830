"""Sends numbered datagrams from a LoopingCall for a while, then END; says how many it sent."""

from twisted.internet import reactor, task
from twisted.internet.protocol import DatagramProtocol

import common


class Sender(DatagramProtocol):
    def __init__(self, target, seconds, interval):
        self.target, self.seconds, self.interval, self.sent = target, seconds, interval, 0

    def startProtocol(self):
        self.loop = task.LoopingCall(self.tick)
        self.loop.start(self.interval)
        reactor.callLater(self.seconds, self.finish)

    def tick(self):
        self.transport.write(b"%d" % self.sent, self.target)
        self.sent += 1

    def finish(self):
        self.loop.stop()
        self.transport.write(b"END", self.target)
        common.say("SENT", self.sent)
        reactor.stop()


def main():
    p = common.parser(__doc__)
    p.add_argument("--interval", type=float, default=0.005)
    p.add_argument("--for", dest="duration", type=float, default=2.0)
    args = p.parse_args()
    sender = Sender((args.host, args.port), args.duration, args.interval)
    reactor.listenUDP(0, sender, interface=args.interface)
    common.stop_after(reactor, args.seconds)
    reactor.run()


main()
