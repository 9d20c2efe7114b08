"""Webhooks to an HTTPS receiver: the pinned connection verifies the certificate for the URL's host
name (against the system's CAs plus WEBHOOK_CA_BUNDLE) and sends nothing to one that fails
(docs/integrations.md "HTTPS receivers"). Throwaway certificates come from the openssl CLI."""
from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import WebhookAttempt
from messenger.models import WebhookDelivery
from messenger.services import webhooks
from tests.receivers import WebhookReceiver
from tests.test_webhooks import _admin
from tests.test_webhooks import _conversation_with_messages
from tests.test_webhooks import _deliver_all
from tests.test_webhooks import documented_verifier
from tests.test_webhooks import webhook_config  # noqa: F401  (fixture)

pytestmark = pytest.mark.committing

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _server_cert(ca: Path, name: str, cwd: Path) -> tuple[Path, Path]:
    """A key and a certificate for DNS name ``name``, signed by the CA in ``ca``."""
    (cwd / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n"
                                     "basicConstraints=critical,CA:FALSE\n")
    _openssl("req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=cwd)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca.key"),
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=cwd)
    return cwd / f"{name}.pem", cwd / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA, a certificate for ``localhost`` and one for ``wrong.example``, both from that CA."""
    if not Path(OPENSSL).exists():
        pytest.fail("the openssl CLI is missing: run `make test` (scripts/system-deps.sh installs openssl)")
    path = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=Messenger Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=path)
    good_cert, good_key = _server_cert(path, "localhost", path)
    wrong_cert, wrong_key = _server_cert(path, "wrong.example", path)
    return {"ca": path / "ca.pem", "cert": good_cert, "key": good_key, "wrong_cert": wrong_cert,
            "wrong_key": wrong_key}


def _https_receiver(cert: Path, key: Path) -> WebhookReceiver:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return WebhookReceiver(tls=context, host="localhost").start()


@pytest.fixture
def trusted(app, webhook_config, pki) -> Iterator[None]:  # type: ignore[no-untyped-def]  # noqa: F811
    saved = app.config["WEBHOOK_CA_BUNDLE"]
    app.config["WEBHOOK_CA_BUNDLE"] = str(pki["ca"])
    try:
        yield
    finally:
        app.config["WEBHOOK_CA_BUNDLE"] = saved


def _refused_attempts(receiver: WebhookReceiver) -> list[str]:
    """Send two message events to ``receiver``: it must get nothing; the attempts' errors."""
    try:
        webhooks.create_webhook(_admin(), url=receiver.url, events=["message.created"])
        _conversation_with_messages()
        _deliver_all()
        assert receiver.requests == []
    finally:
        receiver.stop()
    db.session.expire_all()
    return [a.error or "" for a in db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id))]


def test_an_https_receiver_with_a_certificate_from_the_trusted_ca_gets_signed_deliveries(
        app, trusted, pki) -> None:  # type: ignore[no-untyped-def]
    receiver = _https_receiver(pki["cert"], pki["key"])
    try:
        _, secret = webhooks.create_webhook(_admin(), url=receiver.url, events=["message.created"])
        assert receiver.url.startswith("https://localhost:")
        _conversation_with_messages()
        _deliver_all()
        got = receiver.wait_for(2)
        assert [r.json["payload"]["content"] for r in got] == ["Hello, I need help", "Sure, how can I help?"]
        verify = documented_verifier()
        assert all(verify(secret, r.body, r.headers["X-Messenger-Signature"]) for r in got)
        assert got[0].headers["Host"] == f"localhost:{receiver.port}"  # the name the certificate was checked for
        db.session.expire_all()
        assert {d.status for d in db.session.scalars(sa.select(WebhookDelivery))} == {"success"}
    finally:
        receiver.stop()


def test_a_certificate_for_another_host_name_is_refused_and_nothing_is_sent(app, trusted, pki) -> None:  # type: ignore[no-untyped-def]
    errors = _refused_attempts(_https_receiver(pki["wrong_cert"], pki["wrong_key"]))  # trusted CA, for wrong.example
    assert len(errors) == 2 and all("CERTIFICATE_VERIFY_FAILED" in e and "localhost" in e for e in errors), errors
    assert {d.status for d in db.session.scalars(sa.select(WebhookDelivery))} == {"pending"}  # retried later


def test_a_certificate_from_an_untrusted_ca_is_refused(app, webhook_config, pki) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    assert not app.config["WEBHOOK_CA_BUNDLE"]  # the system's CAs only: the test CA is unknown
    errors = _refused_attempts(_https_receiver(pki["cert"], pki["key"]))
    assert errors and all("CERTIFICATE_VERIFY_FAILED" in e for e in errors), errors


def test_an_unreadable_ca_bundle_is_a_clear_attempt_error(app, webhook_config, pki, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    app.config["WEBHOOK_CA_BUNDLE"] = str(tmp_path / "missing.pem")
    try:
        errors = _refused_attempts(_https_receiver(pki["cert"], pki["key"]))
    finally:
        app.config["WEBHOOK_CA_BUNDLE"] = ""
    assert errors and all(e.startswith("WEBHOOK_CA_BUNDLE unusable: FileNotFoundError") for e in errors), errors
