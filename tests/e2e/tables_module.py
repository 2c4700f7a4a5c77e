#!/usr/bin/env python3
"""Write a WebAssembly module declaring NTABLES funcref tables of ELEMS
elements each, exporting an empty `_start` (tests/e2e/harden.sh: memory
limits must count tables). Usage: tables_module.py OUT NTABLES ELEMS"""
import sys


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def section(ident, body):
    return bytes([ident]) + leb(len(body)) + body


out, ntables, elems = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
module = b"\0asm\1\0\0\0"
module += section(1, b"\x01\x60\x00\x00")                      # type 0: [] -> []
module += section(3, b"\x01\x00")                              # func 0: type 0
module += section(4, leb(ntables) + (b"\x70\x00" + leb(elems)) * ntables)
module += section(7, b"\x01\x06_start\x00\x00")                # export _start
module += section(10, b"\x01\x02\x00\x0b")                     # body: end
open(out, "wb").write(module)
