"""Twisted's names server (DNSServerFactory on a DNSDatagramProtocol) answering from a hosts
file given with --hosts; prints READY <port>."""

from twisted.internet import reactor
from twisted.names import dns, hosts, server

import common


def main():
    p = common.parser(__doc__)
    p.add_argument("--hosts", required=True)
    args = p.parse_args()
    factory = server.DNSServerFactory(authorities=[hosts.Resolver(file=args.hosts)])
    port = reactor.listenUDP(args.port, dns.DNSDatagramProtocol(factory), interface=args.interface)
    common.ready(port.getHost().port)
    common.stop_after(reactor, args.seconds)
    reactor.run()


main()
