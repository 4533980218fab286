"""Key material of the Entra ID emulator: its small TLS CA, the server certificate, signing keys."""
import base64
import datetime
import hashlib
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
SIGNING_KEY = "signing-key.pem"

# The server certificate names every host a browser or the portal may use for the loopback emulator.
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")
RENEW_BEFORE = datetime.timedelta(days=30)


def b64url(data):
    """Encode bytes as unpadded base64url, as JOSE and client_info use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_rsa_key():
    """Generate a 2048-bit RSA private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_private_key(path, key):
    """Write a private key as unencrypted PKCS#8 PEM readable only by its owner."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _read_private_key(path):
    """Read an unencrypted PEM private key."""
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def _write_cert(path, cert):
    """Write a certificate as PEM."""
    with open(path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


def _read_cert(path):
    """Read a PEM certificate."""
    with open(path, "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def _now():
    """Current UTC time for certificate validity."""
    return datetime.datetime.now(datetime.timezone.utc)


def _key_usage(**enabled):
    """A KeyUsage extension with only the named usages set."""
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: enabled.get(name, False) for name in names})


def _make_ca(key):
    """Self-sign a small CA certificate (ten years) that only signs the emulator's server cert."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Entra ID Emulator Local CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))


def _make_server_cert(key, ca_cert, ca_key):
    """Issue the server certificate for 127.0.0.1 and localhost (two years), signed by the CA."""
    sans = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IP_ADDRESSES]
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_encipherment=True),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
            .sign(ca_key, hashes.SHA256()))


def _still_valid(cert):
    """Whether a certificate is valid now and not about to expire."""
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def ensure_tls_material(directory):
    """Create (once) and return paths of the CA cert, server cert chain and server key in `directory`."""
    os.makedirs(directory, exist_ok=True)
    paths = {name: os.path.join(directory, name) for name in (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY)}
    if os.path.exists(paths[CA_CERT]) and os.path.exists(paths[CA_KEY]) and _still_valid(
            _read_cert(paths[CA_CERT])):
        ca_key, ca_cert = _read_private_key(paths[CA_KEY]), _read_cert(paths[CA_CERT])
    else:
        ca_key = new_rsa_key()
        ca_cert = _make_ca(ca_key)
        _write_private_key(paths[CA_KEY], ca_key)
        _write_cert(paths[CA_CERT], ca_cert)
        # A new CA invalidates any server certificate signed by an earlier one.
        for stale in (paths[SERVER_CERT], paths[SERVER_KEY]):
            if os.path.exists(stale):
                os.remove(stale)
    if not (os.path.exists(paths[SERVER_CERT]) and os.path.exists(paths[SERVER_KEY])
            and _still_valid(_read_cert(paths[SERVER_CERT]))):
        server_key = new_rsa_key()
        _write_private_key(paths[SERVER_KEY], server_key)
        _write_cert(paths[SERVER_CERT], _make_server_cert(server_key, ca_cert, ca_key))
    return paths[CA_CERT], paths[SERVER_CERT], paths[SERVER_KEY]


def load_or_create_signing_key(path):
    """Return the RSA token-signing key kept at `path`, generating it on first use."""
    if path and os.path.exists(path):
        return _read_private_key(path)
    key = new_rsa_key()
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_private_key(path, key)
    return key


def key_id(key):
    """A stable key id: base64url of the first 20 bytes of SHA-256 over the public key (27 chars)."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest()[:20])


def public_jwk(key, kid):
    """The public half of an RSA key as a JWK, shaped like the keys in Entra's JWKS."""
    numbers = key.public_key().public_numbers()

    def _int(value):
        """Big-endian unsigned bytes of an integer, base64url encoded."""
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": _int(numbers.n),
            "e": _int(numbers.e)}
