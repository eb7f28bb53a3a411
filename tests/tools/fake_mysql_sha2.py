#!/usr/bin/python3
"""fake_mysql_sha2: a tiny MySQL 8 server speaking caching_sha2_password.

A test fixture for unitproxy's authentication relay (MariaDB has no
caching_sha2_password and Debian ships no MySQL server). It does on the wire
what a MySQL 8 server does for an account whose plugin is
caching_sha2_password, on a plain (non-TLS) connection:

  greeting (HandshakeV10, 20-byte nonce, default plugin P, caps incl. SSL,
            COMPRESS, ZSTD, QUERY_ATTRIBUTES, OPTIONAL_RESULTSET_METADATA)
  <- handshake response (user, auth data, plugin)
  [P != caching_sha2_password]
     -> AuthSwitchRequest 0xfe "caching_sha2_password\\0" nonce(20) "\\0"
     <- scramble computed with the nonce
  fast path (the account's SHA256(SHA256(pw)) is in the cache):
     scramble = XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + nonce)) checks
     -> AuthMoreData 0x01 0x03 (fast auth success) -> OK
  full path (no cache entry, or the scramble does not check):
     -> AuthMoreData 0x01 0x04 (perform full authentication)
     <- 0x02 (public key request)  -> AuthMoreData 0x01 + PEM public key
     <- RSA-OAEP(SHA1) of XOR(password + "\\0", nonce)
     password right -> cache SHA256(SHA256(pw)), OK
     password wrong -> ERR 1045 (28000) Access denied
  empty auth data with a password set -> ERR 1045 (using password: NO)

Commands: COM_QUERY "SELECT <x>" returns a one-column, one-row text result
set (EOF packets, or OK-in-0xfe with CLIENT_DEPRECATE_EOF); the value is
<x> verbatim, except these fixture functions:
  SELECT auth_path()    how this connection authenticated, e.g. "fast",
                        "full,key" (full with a public-key request),
                        "switch,full,key"
  SELECT client_caps()  the capability flags of the handshake response
FLUSH PRIVILEGES empties the cache (as on MySQL); any other statement gets
OK (1 row affected for INSERT/UPDATE/DELETE/REPLACE). COM_PING -> OK,
COM_QUIT closes, other commands -> ERR 1047.

Usage: fake_mysql_sha2.py --listen PORT[:PLUGIN] [--listen ...]
                          --user NAME:PASSWORD [--user ...]
PLUGIN (the greeting's default plugin) is caching_sha2_password (default)
or mysql_native_password (then every login is switched). Listens on
127.0.0.1 only; prints "ready" when all ports listen; stops on SIGTERM.
Needs python3-cryptography (RSA).
"""
import argparse
import hashlib
import os
import signal
import socket
import struct
import sys
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SHA2 = "caching_sha2_password"
NATIVE = "mysql_native_password"

CAPS = (0x00000001 | 0x00000002 | 0x00000004 | 0x00000008   # LONG_PASSWORD..WITH_DB
        | 0x00000020                                          # COMPRESS
        | 0x00000080 | 0x00000200 | 0x00000800                # LOCAL_FILES, 41, SSL
        | 0x00002000 | 0x00008000                             # TRANSACTIONS, SECURE
        | 0x00010000 | 0x00020000 | 0x00040000                # MULTI_*, PS_MULTI
        | 0x00080000 | 0x00100000 | 0x00200000                # PLUGIN_AUTH, ATTRS, LENENC
        | 0x00800000 | 0x01000000                             # SESSION_TRACK, DEPRECATE_EOF
        | 0x02000000 | 0x04000000 | 0x08000000)               # OPT_METADATA, ZSTD, QUERY_ATTRS
CLIENT_CONNECT_WITH_DB = 0x08
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000
CLIENT_DEPRECATE_EOF = 0x01000000
STATUS_AUTOCOMMIT = 0x0002

FAST_AUTH_SUCCESS = 3
PERFORM_FULL_AUTH = 4
REQUEST_PUBLIC_KEY = 2


def sha256(b):
    return hashlib.sha256(b).digest()


def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def lenenc_int(n):
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(b):
    return lenenc_int(len(b)) + b


def read_lenenc_int(p, i):
    c = p[i]
    if c < 251:
        return c, i + 1
    n = {0xfc: 2, 0xfd: 3, 0xfe: 8}[c]
    return int.from_bytes(p[i + 1:i + 1 + n], "little"), i + 1 + n


class Server:
    """Accounts, the SHA256(SHA256(pw)) cache and the RSA key pair."""

    def __init__(self, accounts):
        self.accounts = accounts
        self.cache = {}
        self.lock = threading.Lock()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.next_id = 1

    def conn_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id


class Closed(Exception):
    pass


class Conn:
    """One client connection: handshake, authentication, commands."""

    def __init__(self, srv, sock, plugin):
        self.srv = srv
        self.sock = sock
        self.plugin = plugin
        self.seq = 0
        self.caps = 0
        self.path = []

    # ---- packets ----
    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed()
            buf += chunk
        return buf

    def read(self):
        payload = b""
        while True:
            h = self.recv_exact(4)
            n = int.from_bytes(h[:3], "little")
            if h[3] != self.seq:
                raise Closed()          # a sequence error: MySQL closes too
            self.seq = (self.seq + 1) % 256
            payload += self.recv_exact(n)
            if n < 0xffffff:
                return payload

    def write(self, payload):
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) % 256

    def ok(self, affected=0):
        self.write(b"\x00" + lenenc_int(affected) + lenenc_int(0)
                   + struct.pack("<HH", STATUS_AUTOCOMMIT, 0))

    def err(self, code, state, msg):
        self.write(b"\xff" + struct.pack("<H", code) + b"#" + state.encode()
                   + msg.encode())

    def eof(self):
        if self.caps & CLIENT_DEPRECATE_EOF:
            self.write(b"\xfe" + lenenc_int(0) + lenenc_int(0)
                       + struct.pack("<HH", STATUS_AUTOCOMMIT, 0))
        else:
            self.write(b"\xfe" + struct.pack("<HH", 0, STATUS_AUTOCOMMIT))

    # ---- connection phase ----
    def greeting(self):
        self.nonce = bytes(b % 94 + 33 for b in os.urandom(20))   # printable, no NUL
        self.write(b"\x0a" + b"8.0.36-fake-sha2\0"
                   + struct.pack("<I", self.srv.conn_id()) + self.nonce[:8] + b"\0"
                   + struct.pack("<H", CAPS & 0xffff) + bytes([255])
                   + struct.pack("<H", STATUS_AUTOCOMMIT)
                   + struct.pack("<H", CAPS >> 16) + bytes([21]) + b"\0" * 10
                   + self.nonce[8:] + b"\0" + self.plugin.encode() + b"\0")

    def parse_response(self, p):
        if len(p) < 32:
            raise Closed()              # SSLRequest or garbage: no TLS here
        self.caps = struct.unpack_from("<I", p, 0)[0]
        i = 32
        end = p.index(b"\0", i)
        self.user = p[i:end].decode()
        i = end + 1
        if self.caps & CLIENT_PLUGIN_AUTH_LENENC:
            n, i = read_lenenc_int(p, i)
        elif self.caps & CLIENT_SECURE_CONNECTION:
            n, i = p[i], i + 1
        else:
            n = p.index(b"\0", i) - i
        auth = p[i:i + n]
        i += n
        if self.caps & CLIENT_CONNECT_WITH_DB and i < len(p):
            i = p.index(b"\0", i) + 1
        plugin = ""
        if self.caps & CLIENT_PLUGIN_AUTH and i < len(p):
            end = p.index(b"\0", i) if b"\0" in p[i:] else len(p)
            plugin = p[i:end].decode()
        return auth, plugin

    def denied(self, used):
        self.err(1045, "28000", "Access denied for user '%s'@'127.0.0.1' (using password: %s)"
                 % (self.user, "YES" if used else "NO"))
        return False

    def fast_ok(self, scramble):
        with self.srv.lock:
            h2 = self.srv.cache.get(self.user)
        if h2 is None or len(scramble) != 32:
            return False
        h1 = xor(scramble, sha256(h2 + self.nonce))
        return sha256(h1) == h2

    def full_auth(self):
        """After 0x01 0x04: public key request, RSA-encrypted password."""
        p = self.read()
        if p == bytes([REQUEST_PUBLIC_KEY]):
            self.path.append("key")
            self.write(b"\x01" + self.srv.pem)
            p = self.read()
        if len(p) != self.srv.key.key_size // 8:
            return self.denied(True)    # a clear password: only over TLS
        try:
            plain = self.srv.key.decrypt(p, padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA1()),
                algorithm=hashes.SHA1(), label=None))
        except ValueError:
            return self.denied(True)
        plain = bytes(b ^ self.nonce[i % len(self.nonce)] for i, b in enumerate(plain))
        if not plain.endswith(b"\0"):
            return self.denied(True)
        password = plain[:-1]
        if password != self.srv.accounts.get(self.user, "").encode() \
                or self.user not in self.srv.accounts:
            return self.denied(True)
        with self.srv.lock:
            self.srv.cache[self.user] = sha256(sha256(password))
        self.ok()
        return True

    def authenticate(self):
        self.greeting()
        auth, plugin = self.parse_response(self.read())
        if plugin != SHA2 or self.plugin != SHA2:
            self.path.append("switch")
            self.nonce = bytes(b % 94 + 33 for b in os.urandom(20))
            self.write(b"\xfe" + SHA2.encode() + b"\0" + self.nonce + b"\0")
            auth = self.read()
        if self.user not in self.srv.accounts:
            return self.denied(bool(auth))
        if not auth:
            if self.srv.accounts[self.user] == "":
                self.ok()
                return True
            return self.denied(False)
        if self.fast_ok(auth):
            self.path.append("fast")
            self.write(bytes([1, FAST_AUTH_SUCCESS]))
            self.ok()
            return True
        self.path.append("full")
        self.write(bytes([1, PERFORM_FULL_AUTH]))
        return self.full_auth()

    # ---- command phase ----
    def result(self, name, value):
        self.write(lenenc_int(1))
        self.write(lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"")
                   + lenenc_str(b"") + lenenc_str(name) + lenenc_str(b"")
                   + b"\x0c" + struct.pack("<HIBHB", 255, 1024, 0xfd, 0, 31) + b"\0\0")
        if not self.caps & CLIENT_DEPRECATE_EOF:
            self.eof()
        self.write(lenenc_str(value))
        self.eof()

    def query(self, sql):
        s = sql.strip().rstrip(";").strip()
        word = s.split(None, 1)[0].upper() if s else ""
        if word == "SELECT":
            expr = s[6:].strip()
            if expr.lower() == "auth_path()":
                value = ",".join(self.path).encode()
            elif expr.lower() == "client_caps()":
                value = str(self.caps).encode()
            else:
                value = expr.strip("'").encode()
            self.result(expr.encode(), value)
        elif s.upper() == "FLUSH PRIVILEGES":
            with self.srv.lock:
                self.srv.cache.clear()
            self.ok()
        elif word in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            self.ok(1)
        else:
            self.ok()

    def serve(self):
        if not self.authenticate():
            return
        while True:
            self.seq = 0
            p = self.read()
            if not p or p[0] == 0x01:   # COM_QUIT
                return
            if p[0] == 0x03:
                self.query(p[1:].decode("utf-8", "replace"))
            elif p[0] == 0x0e:          # COM_PING
                self.ok()
            else:
                self.err(1047, "08S01", "Unknown command")


def handle(srv, sock, plugin):
    try:
        Conn(srv, sock, plugin).serve()
    except (Closed, OSError, ValueError, IndexError, UnicodeDecodeError):
        pass
    finally:
        sock.close()


def accept_loop(srv, ls, plugin):
    while True:
        sock, _ = ls.accept()
        threading.Thread(target=handle, args=(srv, sock, plugin), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="fake MySQL 8 server (caching_sha2_password)")
    ap.add_argument("--listen", action="append", required=True, metavar="PORT[:PLUGIN]")
    ap.add_argument("--user", action="append", required=True, metavar="NAME:PASSWORD")
    args = ap.parse_args()
    accounts = dict(u.split(":", 1) for u in args.user)
    srv = Server(accounts)
    for spec in args.listen:
        port, _, plugin = spec.partition(":")
        plugin = plugin or SHA2
        if plugin not in (SHA2, NATIVE):
            ap.error("plugin must be %s or %s" % (SHA2, NATIVE))
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", int(port)))
        ls.listen(64)
        threading.Thread(target=accept_loop, args=(srv, ls, plugin), daemon=True).start()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Event().wait()


if __name__ == "__main__":
    main()
