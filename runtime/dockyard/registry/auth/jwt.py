"""Compact JWS (JWT) signing and verification, ES256 or RS256, over ``cryptography``.

Docker token auth carries a JWT signed by the token server and checked by the registry; the
bundled token endpoint and the registry share one key. An EC P-256 key signs ES256, an RSA key
RS256; a public key alone lets the registry verify tokens from an external token server.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ...errors import InvalidArgument, Unauthorized


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyPair:
    """A signing key (or a verification-only public key) and the JWS algorithm it implies."""

    def __init__(self, private: Any | None, public: Any) -> None:
        self.private, self.public = private, public
        if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
            self.alg = "ES256"
        elif isinstance(public, rsa.RSAPublicKey):
            self.alg = "RS256"
        else:
            raise InvalidArgument("token key must be an EC P-256 or an RSA key")

    @classmethod
    def generate(cls) -> KeyPair:
        private = ec.generate_private_key(ec.SECP256R1())
        return cls(private, private.public_key())

    @classmethod
    def load(cls, path: Path) -> KeyPair:
        data = Path(path).read_bytes()
        try:
            private = serialization.load_pem_private_key(data, password=None)
            return cls(private, private.public_key())
        except ValueError:
            pass
        try:
            return cls(None, serialization.load_pem_public_key(data))
        except ValueError:
            raise InvalidArgument(f"{path}: not a PEM private or public key") from None

    def sign(self, claims: dict[str, Any], kid: str = "") -> str:
        if self.private is None:
            raise InvalidArgument("token key is a public key: cannot sign tokens")
        header = {"typ": "JWT", "alg": self.alg, **({"kid": kid} if kid else {})}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{b64(self._signature(signing_input.encode()))}"

    def _signature(self, data: bytes) -> bytes:
        private: Any = self.private
        if self.alg == "RS256":
            return bytes(private.sign(data, padding.PKCS1v15(), hashes.SHA256()))
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this key signed; Unauthorized for anything else."""
        try:
            head, payload, signature = token.split(".")
            header = json.loads(unb64(head))
            if header.get("alg") != self.alg:
                raise Unauthorized("token signed with an unexpected algorithm")
            self._check(f"{head}.{payload}".encode(), unb64(signature))
            claims = json.loads(unb64(payload))
        except (ValueError, InvalidSignature, AttributeError):
            raise Unauthorized("invalid token") from None
        if not isinstance(claims, dict):
            raise Unauthorized("invalid token")
        return claims

    def _check(self, data: bytes, signature: bytes) -> None:
        if self.alg == "RS256":
            self.public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return
        if len(signature) != 64:
            raise InvalidSignature()
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        self.public.verify(der, data, ec.ECDSA(hashes.SHA256()))
