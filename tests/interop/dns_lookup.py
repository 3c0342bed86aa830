"""Twisted's names client (client.Resolver) asking a DNS server: prints one line per answer,
`A 192.0.2.7`, `AAAA 2001:db8::7`, or the error's class name (`DNSNameError`)."""

from twisted.internet import defer, task
from twisted.names import client, dns, error

import common


async def main(reactor, args):
    resolver = client.Resolver(servers=[(args.host, args.port)], reactor=reactor)
    for name, kind in [(args.name, "A"), (args.name, "AAAA"), (args.missing, "A")]:
        lookup = resolver.lookupAddress if kind == "A" else resolver.lookupIPV6Address
        try:
            answers, _, _ = await lookup(name, timeout=(2, 4))
        except error.DomainError as e:
            common.say(type(e).__name__)
            continue
        for record in answers:
            if record.type in (dns.A, dns.AAAA):
                common.say(kind, record.payload.dottedQuad() if kind == "A" else record.payload._address)


def run(reactor):
    p = common.parser(__doc__)
    p.add_argument("--name", default="example.test")
    p.add_argument("--missing", default="nowhere.test")
    args = p.parse_args()
    return defer.ensureDeferred(main(reactor, args))


task.react(run)
