"""HTTPS through the client: connect to the vetted address, check SNI and certificate by name."""

from __future__ import annotations

import ipaddress
import json
import ssl
from datetime import UTC, datetime, timedelta

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from federation.addresses import AddressPolicy
from federation.client import Timeouts, fetch_json
from federation.connections import PinnedAdapter
from federation.errors import FetchError
from tests.federation.local_http import Reply

LOOPBACK = AddressPolicy.from_setting("127.0.0.0/8")
ACTOR = {"id": "https://peer.test/groups/york", "type": "Group"}


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throw-away CA and a certificate it issued for peer.test only."""
    folder = tmp_path_factory.mktemp("pki")
    start = datetime.now(UTC) - timedelta(days=1)
    end = start + timedelta(days=7)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Branchline test CA"))
        .issuer_name(_name("Branchline test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("peer.test"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("peer.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "peer.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "peer.key"
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {"ca": str(ca_file), "cert": str(cert_file), "key": str(key_file)}


@pytest.fixture
def tls_server(serve, pki):
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    server = serve(tls=context)
    server.server_names = server_names
    server.routes["/actor"] = Reply(
        200, {"Content-Type": "application/activity+json"}, json.dumps(ACTOR).encode()
    )
    return server


def resolver_for(*names):
    def resolve(host, port):
        assert host in names
        return ["127.0.0.1"]

    return resolve


def test_https_connects_to_the_vetted_address_with_sni_and_certificate_for_the_name(
    tls_server, pki
):
    result = fetch_json(
        tls_server.url("/actor", host="peer.test"),
        sign=None,
        policy=LOOPBACK,
        resolver=resolver_for("peer.test"),
        ca_bundle=pki["ca"],
        timeouts=Timeouts(connect=2, read=2, total=5),
    )
    assert result.document == ACTOR
    assert tls_server.server_names == ["peer.test"]
    assert tls_server.received[0].header("Host") == f"peer.test:{tls_server.port}"


def test_https_certificate_for_another_name_is_refused(tls_server, pki):
    with pytest.raises(FetchError) as caught:
        fetch_json(
            tls_server.url("/actor", host="other.test"),
            sign=None,
            policy=LOOPBACK,
            resolver=resolver_for("other.test"),
            ca_bundle=pki["ca"],
            timeouts=Timeouts(connect=2, read=2, total=5),
        )
    assert "certificate" in str(caught.value).lower() or "hostname" in str(caught.value).lower()
    assert tls_server.received == []


def test_https_certificate_from_an_unknown_authority_is_refused(tls_server):
    with pytest.raises(FetchError):
        fetch_json(
            tls_server.url("/actor", host="peer.test"),
            sign=None,
            policy=LOOPBACK,
            resolver=resolver_for("peer.test"),
            timeouts=Timeouts(connect=2, read=2, total=5),
        )
    assert tls_server.received == []


@pytest.mark.parametrize("address", ["203.0.113.7", "2001:db8::7"])
def test_pinned_adapter_keys_the_pool_by_address_and_checks_tls_against_the_name(address):
    adapter = PinnedAdapter(address, "peer.example")
    request = requests.Request("GET", "https://peer.example:8443/actor").prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params == {"scheme": "https", "host": address, "port": 8443}
    assert pool_kwargs["server_hostname"] == "peer.example"
    assert pool_kwargs["assert_hostname"] == "peer.example"
    assert pool_kwargs["cert_reqs"] == "CERT_REQUIRED"
    pool = adapter.get_connection_with_tls_context(request, True)
    assert (pool.host, pool.port) == (str(ipaddress.ip_address(address)), 8443)
    adapter.close()


def test_pinned_adapter_for_plain_http_only_swaps_the_address():
    adapter = PinnedAdapter("203.0.113.7", "peer.example")
    request = requests.Request("GET", "http://peer.example/actor").prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == "203.0.113.7"
    assert "server_hostname" not in pool_kwargs
    adapter.close()


def test_pinned_adapter_refuses_requests_for_another_host():
    adapter = PinnedAdapter("203.0.113.7", "peer.example")
    request = requests.Request("GET", "https://elsewhere.example/actor").prepare()
    with pytest.raises(FetchError, match="pinned"):
        adapter.build_connection_pool_key_attributes(request, True)
    adapter.close()
