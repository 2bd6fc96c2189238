#!/usr/bin/env python3
"""Peers that pin out-of-order bytes (issue 10, "memory that cannot be held hostage").

Run inside the test's namespace: for each of N source ports, a handshake with the engine made
by hand over a raw socket (the kernel's own RSTs for these ports are dropped by nftables, set
up by the test), then SEGS one-byte segments sent out of order (a one-byte hole at the start,
then every other byte), never filled. Prints "holding" once all are sent, keeps them held for
HOLD seconds, then resets every connection and prints "gone".

Usage: ooo_peers.py SRC_IP DST_IP DST_PORT BASE_PORT N SEGS HOLD
Our own segments go out with TTL 99 so that the nftables rule can tell them from the kernel's.
"""
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def segment(src, dst, sport, dport, seq, ack, flags, payload=b"", window=65535):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, window, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


SYN, RST, ACK = 0x02, 0x04, 0x10


def main():
    src, dst, dport, base, n, segs, hold = sys.argv[1:8]
    dport, base, n, segs, hold = int(dport), int(base), int(n), int(segs), float(hold)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 99)
    s.settimeout(0.5)
    conns = {}
    for i in range(n):
        sport = base + i
        isn = random.getrandbits(32)
        conns[sport] = isn
        s.sendto(segment(src, dst, sport, dport, isn, 0, SYN), (dst, 0))
    irs = {}
    deadline = time.time() + 15
    while len(irs) < n and time.time() < deadline:
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            for sport, isn in conns.items():
                if sport not in irs:
                    s.sendto(segment(src, dst, sport, dport, isn, 0, SYN), (dst, 0))
            continue
        ihl = (pkt[0] & 0xF) * 4
        sp, dp, seq, ack, _off, flags = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
        if sp == dport and dp in conns and flags & (SYN | ACK) == SYN | ACK and dp not in irs:
            irs[dp] = seq
            s.sendto(segment(src, dst, dp, dport, conns[dp] + 1, seq + 1, ACK), (dst, 0))
    if len(irs) < n:
        print("handshakes: %d of %d" % (len(irs), n), flush=True)
        sys.exit(1)
    for k in range(segs):
        for sport, isn in conns.items():
            seq = isn + 2 + 2 * k
            s.sendto(segment(src, dst, sport, dport, seq, irs[sport] + 1, ACK, b"x"), (dst, 0))
    print("holding", flush=True)
    time.sleep(hold)
    for sport, isn in conns.items():
        s.sendto(segment(src, dst, sport, dport, isn + 1, irs[sport] + 1, RST | ACK), (dst, 0))
    print("gone", flush=True)


main()
