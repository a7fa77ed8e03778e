"""A throw-away private PKI for the TLS brokers, made with ``cryptography``.

``make_pki(directory)`` writes PEM files: a private CA, a server certificate for ``127.0.0.1`` and
``localhost`` signed by it, a client certificate (mutual TLS), an expired server certificate, and a
CA plus server certificate from *another* authority (a client trusting only our CA must refuse it).
EC P-256 keys: quick to make, accepted by Redis, RabbitMQ (Erlang ssl), Tansu (rustls) and Python.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.harness.ports import LOOPBACK

SERVER_NAMES = ("localhost",)
SERVER_ADDRESSES = (LOOPBACK,)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A certificate and its private key, as PEM files."""

    cert_file: Path
    key_file: Path

    @property
    def key_pem(self) -> bytes:
        return self.key_file.read_bytes()


@dataclass(frozen=True, slots=True)
class Pki:
    ca_file: Path  # our CA: what clients trust
    server: KeyPair  # 127.0.0.1 / localhost, signed by our CA
    client: KeyPair  # a client certificate signed by our CA (mutual TLS)
    expired_server: KeyPair  # signed by our CA, valid until yesterday
    other_ca_file: Path  # an unrelated CA
    foreign_server: KeyPair  # 127.0.0.1 / localhost, signed by the unrelated CA
    foreign_client: KeyPair  # a client certificate signed by the unrelated CA

    def server_tls(self, *, verify_clients: bool, server: KeyPair | None = None) -> ServerTls:
        """What a broker needs to serve TLS with ``server`` (default: the good server certificate)."""
        return ServerTls(
            cert=server or self.server,
            ca_file=self.ca_file,
            client=self.client,
            verify_clients=verify_clients,
        )

    def key_material(self) -> list[str]:
        """Lines of every private key: none may show up in a log, an error or an output."""
        lines: list[str] = []
        for pair in (self.server, self.client, self.expired_server, self.foreign_server, self.foreign_client):
            text = pair.key_pem.decode("ascii")
            lines += [line for line in text.splitlines() if line and not line.startswith("-----")]
        return lines


@dataclass(frozen=True, slots=True)
class ServerTls:
    """A broker's TLS listener: its certificate, the CA it trusts for client certificates, and
    whether a client must present one (mutual TLS). ``client`` is what the harness itself presents
    when it checks that the broker is up."""

    cert: KeyPair
    ca_file: Path
    client: KeyPair
    verify_clients: bool

    def server_context(self) -> ssl.SSLContext:
        """The listening side, for a TLS front in the harness (a ``TcpProxy``)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca_file))
        context.load_cert_chain(str(self.cert.cert_file), str(self.cert.key_file))
        context.verify_mode = ssl.CERT_REQUIRED if self.verify_clients else ssl.CERT_NONE
        return context

    def client_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for the harness's own readiness checks (trusts our CA, shows the client cert)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client.cert_file), str(self.client.key_file))
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "messaging-backbone tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
    cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,  # "BEGIN PRIVATE KEY": what rustls and Erlang both read
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return KeyPair(cert_file, key_file)


class _Authority:
    def __init__(self, common_name: str, now: datetime.datetime) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name)
        self.now = now
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip

    def issue(
        self, common_name: str, *, server: bool, valid_days: tuple[int, int] = (-1, 30)
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A leaf certificate valid from ``now + valid_days[0]`` to ``now + valid_days[1]`` days."""
        key = ec.generate_private_key(ec.SECP256R1())
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + datetime.timedelta(days=valid_days[0]))
            .not_valid_after(self.now + datetime.timedelta(days=valid_days[1]))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_NAMES]
            names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_ADDRESSES]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def make_pki(directory: Path) -> Pki:
    """Write a fresh CA and certificates under ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ours = _Authority("backbone test CA", now)
    other = _Authority("some other CA", now)
    ca_file = directory / "ca.crt"
    ca_file.write_bytes(ours.cert.public_bytes(serialization.Encoding.PEM))
    other_ca_file = directory / "other-ca.crt"
    other_ca_file.write_bytes(other.cert.public_bytes(serialization.Encoding.PEM))
    return Pki(
        ca_file=ca_file,
        server=_write(directory, "server", *ours.issue("localhost", server=True)),
        client=_write(directory, "client", *ours.issue("backbone-client", server=False)),
        expired_server=_write(
            directory, "expired-server", *ours.issue("localhost", server=True, valid_days=(-30, -1))
        ),
        other_ca_file=other_ca_file,
        foreign_server=_write(directory, "foreign-server", *other.issue("localhost", server=True)),
        foreign_client=_write(directory, "foreign-client", *other.issue("backbone-client", server=False)),
    )
