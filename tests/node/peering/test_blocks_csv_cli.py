"""The block list as Mastodon's domain-block CSV, and `branchline block …`."""

from __future__ import annotations

from sqlalchemy import select

from node.cli.block import group as block_command
from node.extensions import db
from node.models import Block, Follower
from node.services.peering import blocking, blocks, peers
from tests.node.federation_support import FakePeer, remote  # noqa: F401

# What Mastodon 4.2's "Export" on Moderation → Federation writes: its header, its column
# order, booleans as true/false, a comment with a comma (quoted), and the three severities.
MASTODON_EXPORT = """\
#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
spam.example,suspend,true,true,"Spam, and more spam",false
harassment.example,suspend,false,false,Harassment of members,true
loud.example,silence,true,false,Unmoderated,false
fine.example,noop,true,false,,false
Bücher.example,suspend,false,false,,false
"""


def test_a_mastodon_export_imports_suspends_and_skips_silence_and_noop(app, group):
    report = blocking.import_csv(MASTODON_EXPORT, by_name="test")

    assert [b.target for b in report.added] == [
        "spam.example",
        "harassment.example",
        "xn--bcher-kva.example",
    ]
    assert [(row, why) for row, _domain, why in report.skipped] == [
        (4, "severity silence"),
        (5, "severity noop"),
    ]
    spam = blocks.find("spam.example")
    assert spam.public_comment == "Spam, and more spam" and spam.reject_media
    assert blocks.find("harassment.example").obfuscate
    assert blocks.is_blocked("https://mastodon.spam.example/users/x")


def test_silence_can_be_treated_as_a_block(app, group):
    report = blocking.import_csv(MASTODON_EXPORT, silence_as_block=True)
    assert "loud.example" in [b.target for b in report.added]


def test_files_without_the_hash_prefix_or_any_header_are_read(app, group):
    plain = (
        "domain,severity,reject_media,reject_reports,public_comment,obfuscate\n"
        "a.example,suspend,false,false,x,false\n"
    )
    bare = "b.example,suspend,false,false,,false\nc.example\n"
    blocking.import_csv(plain)
    blocking.import_csv(bare)
    assert {b.target for b in blocks.listing()} == {"a.example", "b.example", "c.example"}
    assert blocks.find("a.example").public_comment == "x"


def test_bad_rows_are_reported_and_the_rest_imported(app, group):
    text = "#domain,#severity\nnot a domain,suspend\nok.example,ban\ngood.example,suspend\n"
    report = blocking.import_csv(text)
    assert [b.target for b in report.added] == ["good.example"]
    assert [row for row, _d, _why in report.skipped] == [2, 3]
    again = blocking.import_csv(text)
    assert again.already == ["good.example"] and not again.added


def test_export_round_trips_through_import(app, group):
    blocking.import_csv(MASTODON_EXPORT)
    blocking.block("https://other.example/users/troll", public_comment="troll")
    exported = blocking.export_csv()

    lines = exported.splitlines()
    assert lines[0] == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"
    assert 'spam.example,suspend,true,true,"Spam, and more spam",false' in lines
    assert "troll" not in exported  # Mastodon's format holds domains only
    with_actors = blocking.export_csv(actors=True)
    assert "https://other.example/users/troll,suspend" in with_actors

    for row in db.session.scalars(select(Block)):
        db.session.delete(row)
    db.session.commit()
    blocking.import_csv(with_actors)
    assert blocking.export_csv(actors=True) == with_actors


# The command line ----------------------------------------------------------------------


def test_block_commands_add_list_remove(app, group, remote):  # noqa: F811
    peer = FakePeer(2)
    peer.serve(remote)
    stored = peers.refresh(peer.actor)
    db.session.add(Follower(peer_id=stored.id, state="accepted", follow_activity_id="x"))
    db.session.commit()
    runner = app.test_cli_runner()

    added = runner.invoke(
        block_command, ["add", "127.0.0.2", "--public-comment", "spam", "--private-comment", "t1"]
    )
    again = runner.invoke(block_command, ["add", "127.0.0.2"])
    bad = runner.invoke(block_command, ["add", "acct:x@y.example"])
    listed = runner.invoke(block_command, ["list"])

    assert added.exit_code == 0, added.output
    assert "Blocked 127.0.0.2" in added.output and "1 follower(s)" in added.output
    assert again.exit_code == 1 and "blocked already" in again.output
    assert bad.exit_code == 1 and "handle" in bad.output
    assert "127.0.0.2" in listed.output and "command line" in listed.output
    assert "spam | t1" in listed.output
    assert db.session.scalar(select(Follower)) is None

    removed = runner.invoke(block_command, ["remove", "127.0.0.2"])
    missing = runner.invoke(block_command, ["remove", "127.0.0.2"])
    assert removed.exit_code == 0 and "Unblocked 127.0.0.2" in removed.output
    assert missing.exit_code == 1 and "not blocked" in missing.output
    assert runner.invoke(block_command, ["list"]).output.strip() == "Nothing is blocked."


def test_block_import_and_export_commands(app, group, tmp_path):
    source = tmp_path / "mastodon.csv"
    source.write_text(MASTODON_EXPORT, encoding="utf-8")
    target = tmp_path / "out.csv"
    runner = app.test_cli_runner()

    imported = runner.invoke(block_command, ["import", str(source)])
    exported = runner.invoke(block_command, ["export", str(target)])
    printed = runner.invoke(block_command, ["export"])

    assert imported.exit_code == 0, imported.output
    assert "3 blocked, 0 blocked already, 2 skipped" in imported.output
    assert "skipped  row 4 loud.example: severity silence" in imported.output
    assert exported.exit_code == 0 and "Wrote 3 block(s)" in exported.output
    assert target.read_text(encoding="utf-8") == printed.output
    assert printed.output.count("\n") == 4


def test_an_import_cuts_the_ties_of_every_domain_it_blocks(app, group, remote):  # noqa: F811
    for n in (2, 3):
        peer = FakePeer(n)
        peer.serve(remote)
        stored = peers.refresh(peer.actor)
        db.session.add(Follower(peer_id=stored.id, state="accepted", follow_activity_id=f"f{n}"))
    db.session.commit()
    text = "#domain,#severity\n127.0.0.2,suspend\n127.0.0.3,suspend\n127.0.0.2,suspend\n"

    report = blocking.import_csv(text)

    assert [b.target for b in report.added] == ["127.0.0.2", "127.0.0.3"]
    assert report.already == ["127.0.0.2"]  # the same domain twice in one file
    assert report.severed.followers_removed == 2
    assert db.session.scalar(select(Follower)) is None
