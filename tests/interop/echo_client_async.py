"""An asynchronous UDP echo client: sends --count lines to an echo server one at a time, waits
--timeout seconds for each echo and tries --tries times, prints what came back, exits 0 when
every line was echoed and 1 otherwise. Ported to gyre as examples/echo_client_async.rs.

It runs on the select reactor: on Linux's epoll reactor an ICMP refusal closes the port instead
of calling connectionRefused (Twisted #5377, #6287, #6467).
"""

from twisted.internet import selectreactor

selectreactor.install()

from twisted.internet import defer, task  # noqa: E402
from twisted.internet.protocol import DatagramProtocol  # noqa: E402

import common  # noqa: E402


class Refused(Exception):
    """No one listens at the server's address."""


class EchoClient(DatagramProtocol):
    def __init__(self):
        self.replies = defer.DeferredQueue(backlog=1)

    def datagramReceived(self, data, addr):
        self.replies.put(data)

    def connectionRefused(self):
        self.replies.put(Refused())


async def ask(reactor, client, line, timeout, tries):
    for attempt in range(1, tries + 1):
        client.transport.write(line)
        try:
            reply = await client.replies.get().addTimeout(timeout, reactor)
        except defer.TimeoutError:
            print(f"{line.decode()}: no echo (try {attempt} of {tries})")
            continue
        if isinstance(reply, Refused):
            print(f"{line.decode()}: refused (try {attempt} of {tries})")
            await task.deferLater(reactor, timeout)
            continue
        print(f"{line.decode()}: echoed {reply.decode()}")
        return True
    return False


async def main(reactor):
    args = common.parser(__doc__)
    args.add_argument("--count", type=int, default=3)
    args.add_argument("--timeout", type=float, default=1.0)
    args.add_argument("--tries", type=int, default=3)
    args = args.parse_args()
    client = EchoClient()
    port = reactor.listenUDP(0, client, interface=args.interface)
    client.transport.connect(args.host, args.port)
    echoed = 0
    for i in range(args.count):
        echoed += await ask(reactor, client, b"line %d" % i, args.timeout, args.tries)
    await port.stopListening()
    print(f"{echoed} of {args.count} lines echoed", flush=True)
    if echoed < args.count:
        raise SystemExit(1)


task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
