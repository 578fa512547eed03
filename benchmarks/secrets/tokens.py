"""Format-valid credential generators for the secrets benchmark corpus.

Every generator takes a seeded :class:`random.Random` and returns a credential that has the real
format of its kind: prefix, length, alphabet and, where the issuer defines one, a checksum (GitHub
and npm tokens carry a CRC32 of their random part in base62; PEM bodies are valid DER framing;
JWTs are base64url JSON). None of these credentials is live: they are random.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import string
import struct

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
LOWER_DIGITS = string.ascii_lowercase + string.digits
UPPER_B32 = string.ascii_uppercase + "234567"


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    """``n`` characters drawn from ``alphabet``."""
    return "".join(rng.choice(alphabet) for _ in range(n))


def sha256_hex(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(text.encode()).hexdigest()


def b62_encode(value: int, width: int) -> str:
    """Base62 (0-9A-Za-z) of ``value``, left-padded with ``0`` to ``width``."""
    out = ""
    while value:
        value, digit = divmod(value, 62)
        out = B62[digit] + out
    return out.rjust(width, "0")


def crc32_token(prefix: str, body: str) -> str:
    """GitHub/npm style token: prefix + body + base62(CRC32(body)) in 6 characters."""
    return prefix + body + b62_encode(binascii.crc32(body.encode()), 6)


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --- DER / PEM -----------------------------------------------------------------------------


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der(tag: int, content: bytes) -> bytes:
    """One DER TLV."""
    return bytes([tag]) + _der_len(len(content)) + content


def der_int(rng: random.Random, nbytes: int) -> bytes:
    """A positive DER INTEGER of ``nbytes`` random bytes (top bit set, so a 00 pad is added)."""
    raw = bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(nbytes - 1)
    return der(0x02, b"\x00" + raw)


def pem(label: str, body: bytes, width: int = 64) -> str:
    """PEM armour around ``body``."""
    text = base64.b64encode(body).decode()
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def rsa_pkcs1_der(rng: random.Random) -> bytes:
    """A 2048-bit-shaped PKCS#1 RSAPrivateKey (random numbers, valid framing)."""
    parts = [der(0x02, b"\x00"), der_int(rng, 256), der(0x02, b"\x01\x00\x01"), der_int(rng, 256)]
    parts += [der_int(rng, 128) for _ in range(5)]
    return der(0x30, b"".join(parts))


def rsa_private_key(rng: random.Random) -> str:
    return pem("RSA PRIVATE KEY", rsa_pkcs1_der(rng))


def pkcs8_private_key(rng: random.Random) -> str:
    """PKCS#8 ``BEGIN PRIVATE KEY`` wrapping an RSA key (what GCP service accounts carry)."""
    algo = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    body = der(0x30, der(0x02, b"\x00") + algo + der(0x04, rsa_pkcs1_der(rng)))
    return pem("PRIVATE KEY", body)


def ec_private_key(rng: random.Random) -> str:
    """SEC1 P-256 ``BEGIN EC PRIVATE KEY``."""
    oid = der(0xA0, der(0x06, bytes.fromhex("2a8648ce3d030107")))
    pub = der(0xA1, der(0x03, b"\x00\x04" + rng.randbytes(64)))
    body = der(0x30, der(0x02, b"\x01") + der(0x04, rng.randbytes(32)) + oid + pub)
    return pem("EC PRIVATE KEY", body)


def _ssh_str(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def openssh_private_key(rng: random.Random) -> str:
    """Unencrypted ``openssh-key-v1`` ed25519 key (random key material, valid framing)."""
    pub_raw = rng.randbytes(32)
    pub_blob = _ssh_str(b"ssh-ed25519") + _ssh_str(pub_raw)
    check = rng.randbytes(4)
    priv = check + check + pub_blob + _ssh_str(rng.randbytes(32) + pub_raw) + _ssh_str(b"dev@ml")
    priv += bytes(range(1, 1 + (-len(priv)) % 8))
    body = b"openssh-key-v1\x00" + _ssh_str(b"none") + _ssh_str(b"none") + _ssh_str(b"")
    body += struct.pack(">I", 1) + _ssh_str(pub_blob) + _ssh_str(priv)
    return pem("OPENSSH PRIVATE KEY", body, width=70)


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def pgp_private_key(rng: random.Random) -> str:
    """ASCII-armoured PGP secret key block with a correct CRC24 line."""
    packet = bytes([0x95, 0x03, 0xC6]) + b"\x04" + rng.randbytes(0x3C6 - 1)
    text = base64.b64encode(packet).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    crc = base64.b64encode(_crc24(packet).to_bytes(3, "big")).decode()
    return (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        + "\n".join(lines)
        + f"\n={crc}\n-----END PGP PRIVATE KEY BLOCK-----"
    )


def jwt(rng: random.Random) -> str:
    """An HS256 or RS256 JWT with realistic claims."""
    alg = rng.choice(["HS256", "RS256"])
    header = {"alg": alg, "typ": "JWT"}
    iat = 1_700_000_000 + rng.randrange(30_000_000)
    payload = {
        "sub": str(rng.randrange(10**6, 10**7)),
        "email": f"{rng.choice(['ana', 'li', 'sam', 'joe'])}{rng.randrange(100)}@corp.example",
        "role": rng.choice(["admin", "service", "ml-pipeline"]),
        "iss": "https://auth.internal.corp.example",
        "iat": iat,
        "exp": iat + 3600 * 24 * 365,
    }
    sig = rng.randbytes(32 if alg == "HS256" else 256)
    return ".".join(
        [
            b64url(json.dumps(header, separators=(",", ":")).encode()),
            b64url(json.dumps(payload, separators=(",", ":")).encode()),
            b64url(sig),
        ]
    )


def pypi_token(rng: random.Random) -> str:
    """A PyPI API token: ``pypi-`` + base64url of a macaroon v2 for location ``pypi.org``."""
    ident = json.dumps({"nonce": rand(rng, HEX, 32), "version": 1}).encode()
    caveat = json.dumps({"version": 1, "permissions": "user"}).encode()
    mac = b"\x02\x01\x08pypi.org\x02" + bytes([len(ident)]) + ident + b"\x00\x02"
    mac += bytes([len(caveat)]) + caveat + b"\x00\x00\x06\x20" + rng.randbytes(32)
    return "pypi-" + b64url(mac)


def anthropic_key(rng: random.Random) -> str:
    return "sk-ant-api03-" + rand(rng, URLSAFE, 93) + "AA"


def openai_project_key(rng: random.Random) -> str:
    return "sk-proj-" + rand(rng, URLSAFE, 74) + "T3BlbkFJ" + rand(rng, URLSAFE, 74)


def openai_legacy_key(rng: random.Random) -> str:
    return "sk-" + rand(rng, ALNUM, 20) + "T3BlbkFJ" + rand(rng, ALNUM, 20)


def azure_storage_key(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(64)).decode()


def discord_bot_token(rng: random.Random) -> str:
    user_id = str(rng.randrange(10**17, 10**18 * 2))
    return b64url(user_id.encode()) + "." + rand(rng, URLSAFE, 6) + "." + rand(rng, URLSAFE, 38)


def human_password(rng: random.Random) -> str:
    """A password a person would type: words, digits and a symbol."""
    words = ["Falcon", "river", "Maple", "quartz", "Orbit", "tiger", "Copper", "delta", "Nimbus"]
    return (
        rng.choice(words)
        + rng.choice("!#%&*@$")
        + str(rng.randrange(10, 9999))
        + rng.choice(words).lower()
        + rand(rng, ALNUM, 3)
    )


def db_password(rng: random.Random) -> str:
    return rand(rng, ALNUM, rng.randrange(14, 22))
