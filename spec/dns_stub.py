#!/usr/bin/env python3
"""A DNS server for the specs, on 127.0.0.1 (UDP, a free port it prints: "ready PORT").

    dns_stub.py HOSTS

It answers A queries from HOSTS, read again at every query, lines "NAME ADDR [ADDR...]";
any other name is NXDOMAIN, any other type an empty answer. TTL 1 s. It stands in for
the cluster DNS (kube-dns) of Kubernetes, which a spec cannot have: names that move
between addresses, and a name of several addresses (a headless Service).
"""
import socket
import struct
import sys


def records(path):
    table = {}
    with open(path) as f:
        for line in f:
            words = line.split()
            if words:
                table[words[0].lower().rstrip(".")] = words[1:]
    return table


def question(packet):
    """The name, the type and the end of the first question."""
    labels, i = [], 12
    while packet[i]:
        n = packet[i]
        labels.append(packet[i + 1:i + 1 + n].decode("ascii"))
        i += 1 + n
    qtype = struct.unpack("!H", packet[i + 1:i + 3])[0]
    return ".".join(labels).lower(), qtype, i + 5


def answer(packet, table):
    name, qtype, end = question(packet)
    addrs = table.get(name)
    flags = 0x8180 if addrs is not None else 0x8183
    addrs = addrs if addrs is not None and qtype == 1 else []
    head = packet[:2] + struct.pack("!HHHHH", flags, 1, len(addrs), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a) for a in addrs)
    return head + packet[12:end] + body


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    print("ready", sock.getsockname()[1], flush=True)
    while True:
        packet, peer = sock.recvfrom(512)
        try:
            sock.sendto(answer(packet, records(sys.argv[1])), peer)
        except (IndexError, struct.error, UnicodeDecodeError, OSError):
            pass


if __name__ == "__main__":
    main()
