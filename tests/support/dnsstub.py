"""Tiny UDP DNS servers for tests, on their own address in 127.0.18.x (the range of issue 14):
``FadingResolver`` answers the first ``answers`` queries with REFUSED (enough for the plugin's
canary), then never again, and counts what it left unanswered; ``CountingResolver`` answers
``ok.*`` names, SERVFAILs the rest, and counts every question."""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ADDRESS = "127.0.18.53"


class _UdpStub:
    """A UDP DNS server on ADDRESS:port in a thread of its own; ``handle`` answers each query."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ADDRESS, port))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = self.handle(dns.message.from_wire(data))
            if reply is not None:
                self.sock.sendto(reply.to_wire(), peer)

    def handle(self, query: dns.message.Message) -> dns.message.Message | None:
        raise NotImplementedError

    def close(self) -> None:
        self.stopped = True
        self.thread.join()
        self.sock.close()


class FadingResolver(_UdpStub):
    """Answers the first ``answers`` queries with REFUSED, then never again; counts the rest."""

    def __init__(self, port: int, answers: int) -> None:
        self.answers = answers
        self.unanswered = 0
        super().__init__(port)

    def handle(self, query: dns.message.Message) -> dns.message.Message | None:
        if self.answers <= 0:
            self.unanswered += 1
            return None
        self.answers -= 1
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.REFUSED)
        reply.flags &= ~dns.flags.AA
        return reply


class CountingResolver(_UdpStub):
    """Answers names under ``ok.`` with one A record, every other name with SERVFAIL, and counts
    the queries per (name, type)."""

    def __init__(self, port: int) -> None:
        self.asked: dict[tuple[str, str], int] = {}
        super().__init__(port)

    def handle(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text()
        key = (name, dns.rdatatype.to_text(question.rdtype))
        self.asked[key] = self.asked.get(key, 0) + 1
        reply = dns.message.make_response(query)
        if name.startswith("ok."):
            reply.answer.append(dns.rrset.from_text(question.name, 300, "IN", "A", "192.0.2.1"))
        else:
            reply.set_rcode(dns.rcode.SERVFAIL)
        return reply
