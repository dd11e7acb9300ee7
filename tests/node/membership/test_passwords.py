"""Password hashing is Argon2id at RFC 9106 cost in production."""

from argon2 import extract_parameters, profiles

from node import create_app
from node.services.membership import passwords


def test_production_hashes_are_argon2id_at_rfc9106_cost(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "x"})
    with app.app_context():
        stored = passwords.hash_password("a long passphrase")
        assert stored.startswith("$argon2id$")
        assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
        assert passwords.check_password(stored, "a long passphrase")
        assert not passwords.check_password(stored, "a long passphrasf")
        assert not passwords.check_password(None, "a long passphrase")


def test_a_hash_made_at_a_lower_cost_is_upgraded_on_next_login(app):
    cheap = passwords.hash_password("a long passphrase")  # the test profile
    app.config["PASSWORD_HASH_PROFILE"] = "rfc9106-low-memory"
    assert passwords.needs_rehash(cheap)
