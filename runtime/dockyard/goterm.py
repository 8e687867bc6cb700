"""moby/term's ``ToBytes`` as dockerd 20.10 reads a container's ``detachKeys`` and an exec's
``DetachKeys`` — one reading for the API's attach and exec and the exec create's check."""

from __future__ import annotations

_CTRL = ["ctrl-@", *(f"ctrl-{c}" for c in "abcdefghijklmnopqrstuvwxyz"), "ctrl-[", "ctrl-\\",
         "ctrl-]", "ctrl-^", "ctrl-_"]
"""moby/term's ASCII table: a name's index is its byte."""


def detach_sequence(keys: str) -> bytes:
    """Docker's ``--detach-keys`` ("ctrl-p,ctrl-q", "a,ctrl-@") as the bytes to watch for, read
    as moby/term's ToBytes: each comma-separated key one byte as written, a ctrl- name of its
    table (lower case) or DEL — an empty key, a space before one, ctrl-A, é: unknown."""
    out = bytearray()
    for key in keys.split(","):
        raw = key.encode()
        if len(raw) == 1:
            out += raw
        elif key in _CTRL:
            out.append(_CTRL.index(key))
        elif key == "DEL":
            out.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)
