"""Sealed papers and the tellers' shares of a ballot key, as plain functions."""

from __future__ import annotations

from itertools import combinations

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox

from node.services.voting import sealing
from node.services.voting.sealing import ShareError


@pytest.fixture(scope="module")
def key():
    return sealing.make_key()


def test_any_k_of_n_shares_rebuild_the_key_and_fewer_do_not(key):
    public, private = key
    shares = sealing.deal(private, 3, 5)
    assert sorted(s.index for s in shares) == [1, 2, 3, 4, 5]
    for chosen in combinations(shares, 3):
        assert sealing.rebuild(list(chosen), public) == private
    for chosen in combinations(shares, 2):
        with pytest.raises(ShareError, match="do not rebuild"):
            sealing.rebuild(list(chosen), public)


def test_one_teller_alone_holds_a_share_that_is_the_whole_key(key):
    public, private = key
    (share,) = sealing.deal(private, 1, 1)
    assert sealing.rebuild([share], public) == private


def test_the_same_share_twice_is_refused(key):
    public, private = key
    first, _second, _third = sealing.deal(private, 2, 3)
    with pytest.raises(ShareError, match="twice"):
        sealing.rebuild([first, first], public)


def test_a_share_from_another_ballot_does_not_rebuild_this_key(key):
    public, private = key
    _other_public, other_private = sealing.make_key()
    mine = sealing.deal(private, 2, 3)
    theirs = sealing.deal(other_private, 2, 3)
    with pytest.raises(ShareError):
        sealing.rebuild([mine[0], theirs[1]], public)


def test_a_share_code_survives_copying_and_refuses_a_typo(key):
    _public, private = key
    share = sealing.deal(private, 2, 3)[1]
    code = share.code
    spaced = " ".join(code[i : i + 5] for i in range(0, len(code), 5)).lower()
    assert sealing.parse_share(spaced) == share
    typo = code[:10] + ("A" if code[10] != "A" else "B") + code[11:]
    with pytest.raises(ShareError, match="mistyped"):
        sealing.parse_share(typo)
    with pytest.raises(ShareError, match="not a ballot share"):
        sealing.parse_share("XYZ1-" + code[5:])
    with pytest.raises(ShareError):
        sealing.parse_share(code[:-3])


def test_a_commitment_recognises_its_share_and_only_in_its_ballot(key):
    _public, private = key
    first, second = sealing.deal(private, 2, 2)
    kept = sealing.commitment(b"ballot-1", first)
    assert sealing.commitment(b"ballot-1", first) == kept
    assert sealing.commitment(b"ballot-1", second) != kept
    assert sealing.commitment(b"ballot-2", first) != kept


def test_every_sealed_paper_has_one_length_whatever_it_says(key):
    public, _private = key
    papers = [sealing.seal(public, c) for c in ([], [0], [1], list(range(60)))]
    assert {len(p) for p in papers} == {sealing.SEALED_BYTES}


def test_the_same_choice_sealed_twice_gives_different_papers_and_trackers(key):
    public, private = key
    one, two = sealing.seal(public, [1]), sealing.seal(public, [1])
    assert one != two and sealing.tracker(one) != sealing.tracker(two)
    box = sealing.opener(private)
    assert sealing.open_paper(box, one) == sealing.open_paper(box, two) == [1]


def test_papers_sealed_by_libsodium_directly_open_the_same(key):
    # A paper sealed without this module (as a browser would, with libsodium's sealed
    # box and the same padding) opens; one that is not JSON, or not a list of whole
    # numbers, is spoilt.
    public, private = key
    box = sealing.opener(private)
    outside = SealedBox(PublicKey(public))
    assert sealing.open_paper(box, outside.encrypt(b"[2,0]" + b" " * 251)) == [2, 0]
    for spoilt in (b"not json", b'{"a": 1}', b"[1, true]", b'["1"]', b"[1.5]"):
        assert sealing.open_paper(box, outside.encrypt(spoilt)) is None


def test_a_paper_opened_with_another_key_or_altered_is_spoilt(key):
    public, _private = key
    paper = sealing.seal(public, [0])
    assert sealing.open_paper(SealedBox(PrivateKey.generate()), paper) is None
    altered = paper[:-1] + bytes([paper[-1] ^ 1])
    assert sealing.open_paper(sealing.opener(key[1]), altered) is None


def test_too_many_choices_for_a_paper_are_refused(key):
    public, _private = key
    with pytest.raises(ValueError):
        sealing.seal(public, list(range(1000, 1100)))


@pytest.mark.parametrize(("k", "n"), [(0, 3), (4, 3), (2, 33)])
def test_impossible_teller_counts_are_refused(key, k, n):
    with pytest.raises(ValueError):
        sealing.deal(key[1], k, n)
