"""Every page, form label, flash message and mail reaches the catalogue, and a catalogue
translates them.

The first tests run `pybabel extract`'s own machinery over the repository with babel.cfg, so a
template, view or mail whose words are not wrapped in ``_()``/``gettext``/``ngettext`` shows
up here as a missing message. The last tests compile a small Welsh catalogue and read a public
page, a Manage page and a flash message through it (mail read through a catalogue:
messaging/test_mail_translation.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo

from node.extensions import babel
from tests.conftest import log_in

ROOT = Path(__file__).resolve().parents[2]

# A few messages from each folder of templates, and from the views and schemas.
REPRESENTATIVE = {
    "base.html": [
        "Skip to content",
        "Powered by Branchline, a federated network for local campaigning groups.",
    ],
    "_forms.html": ["(required)", "There is a problem", "Save"],
    "error.html": ["Page not found", "Go to the front page"],
    "pages/": ["Will you come?", "RSVPs are closed.", "No upcoming events", "Seats for riders"],
    "manage/": ["Manage %(name)s", "Group profile", "Requests to join", "Check-in"],
    "account/": ["Your data", "Log out everywhere", "Change your password"],
    "auth/": ["Forgotten your password?", "Reset your password", "Choose a new password"],
    "ballots/": ["Close voting now?", "Find your tracker", "Set up a ballot"],
    "national/": ["Across the network", "Endorsed candidates", "Where am I needed"],
    "network/": ["Network views"],
    "twins/": ["Propose twinning"],
    "asks/": ["Write an ask", "Asks received", "Pass on to our members"],
    "mail/": ["Stop these messages?", "Undo: send these again", "Save my choices"],
    "flash messages": ["Your profile is saved.", "Shift added.", "Welcome back, %(display_name)s."],
    "service refusals": [
        "This ballot was set up before papers were sealed: it has no tellers.",
        "Give a repeat rule.",
        "Your answer changed while this one was saved; try again.",
        "Choose before casting your vote: nothing is chosen.",
    ],
    "schemas": ["Fill this in.", "Give a whole number."],
    # Mail composed in Python: subjects, bodies, the greeting and footer, the kinds' labels.
    "mail subjects": [
        "You have a place: %(title)s",
        "Your invitation to join %(group)s",
        "Reminder: %(title)s",
        "This week at %(group)s",
        "You have a ride: %(title)s",
        "Cancelled: %(title)s",
        "We have your request to join %(group)s",
        "Reset your Branchline password",
        "New event: %(title)s",
        "[Test] %(subject)s",
    ],
    "mail bodies": [
        "%(who)s invited you to join %(group)s on Branchline as %(role)s.",
        "A place came free and you were first on the waiting list: you are now going to "
        "%(title)s, %(when)s.",
        "Your driver: %(who)s",
        "Setting off from: %(place)s",
        "**Still coming?** [Yes, I'm coming](%(yes)s) · [No, I can't come](%(no)s)",
        "%(date)s (%(zone)s time)",
    ],
    "mail greeting and footer": [
        "Hello %(name)s,",
        "You are sent this because you get: %(label)s.",
        "Stop these with one click: %(link)s",
        "Stop all mail from this group with one click",
    ],
    "kinds of mail": [
        "Changes to events you are going to: cancelled, moved, places, lifts",
        "The weekly digest: next week's events, open ballots and news",
        "Messages about an event you answered as a guest",
        "All mail from this group, except messages about your account",
    ],
}
PLURALS = [
    ("%(num)d event", "%(num)d events"),
    ("%(num)d paper", "%(num)d papers"),
    ("%(num)d place", "%(num)d places"),
    ("<strong>%(num)d</strong> member going", "<strong>%(num)d</strong> members going"),
    ("%(num)d person going", "%(num)d people going"),  # whom a change to an event e-mails
]


@pytest.fixture(scope="module")
def catalogue() -> dict[str, str | tuple[str, ...]]:
    """Extract every marked message as ``pybabel extract -F babel.cfg`` would."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    found: dict[str, str | tuple[str, ...]] = {}
    for _name, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found[message[0] if isinstance(message, tuple) else message] = message
    return found


def test_the_catalogue_holds_the_words_of_every_page(catalogue):
    assert len(catalogue) > 1300, len(catalogue)


@pytest.mark.parametrize("where", sorted(REPRESENTATIVE))
def test_each_folder_of_templates_reaches_the_catalogue(catalogue, where):
    missing = [text for text in REPRESENTATIVE[where] if text not in catalogue]
    assert not missing, f"{where}: {missing}"


@pytest.mark.parametrize(("one", "many"), PLURALS)
def test_counts_reach_the_catalogue_with_both_forms(catalogue, one, many):
    assert catalogue[one] == (one, many)


def test_no_message_is_a_stray_piece_of_markup(catalogue):
    stray = [text for text in catalogue if text.strip().startswith("</") or text == "s"]
    assert not stray


# What a template leaves once its markup, its Jinja and its wrapped words are taken out.
NOT_WORDS = re.compile(
    r"\{#.*?#\}|\{%-?\s*set\s+\w+\s*-?%\}.*?\{%-?\s*endset\s*-?%\}|\{%.*?%\}|\{\{.*?\}\}"
    r"|<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|<pre\b.*?</pre>"
    r"|<(?:[^>{]|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{(?![{%#]))*>",
    re.S,
)
SHOWN_ATTRIBUTE = re.compile(r'\b(?:aria-label|title|placeholder|alt)="([^"{]*[A-Za-z]{2,}[^"{]*)"')


def test_no_template_shows_words_outside_gettext():
    bare = []
    for path in sorted((ROOT / "node" / "templates").rglob("*.html")):
        source = path.read_text()
        for piece in NOT_WORDS.sub("\0", source).split("\0"):
            if re.search(r"[A-Za-z]{2,}", piece):
                bare.append(f"{path.relative_to(ROOT)}: {piece.strip()[:60]!r}")
        bare += [f"{path.relative_to(ROOT)}: {m!r}" for m in SHOWN_ATTRIBUTE.findall(source)]
    assert not bare, "\n".join(bare)


# A catalogue translates a public page, a Manage page and a flash message ------------------

WELSH = {
    "No upcoming events": "Dim digwyddiadau i ddod",
    "Manage %(name)s": "Rheoli %(name)s",
    "Welcome back, %(display_name)s.": "Croeso nôl, %(display_name)s.",
    "There is nothing here.": "Does dim byd yma.",
}


@pytest.fixture
def fresh_translations(app):
    # Flask-Babel caches a language's catalogue on the one Babel object that every app in
    # this process shares: start and end with none, so no other test reads this catalogue.
    babel.domain_instance.cache.clear()
    yield
    babel.domain_instance.cache.clear()


@pytest.fixture
def app_config(app_config, tmp_path):
    welsh = Catalog(locale="cy")
    for english, translated in WELSH.items():
        welsh.add(english, translated)
    folder = tmp_path / "translations" / "cy" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as out:
        write_mo(out, welsh)
    return {
        **app_config,
        "BABEL_DEFAULT_LOCALE": "cy",
        "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations"),
    }


def test_a_public_page_speaks_the_catalogue(client, fresh_translations):
    html = client.get("/events").get_data(as_text=True)
    assert "Dim digwyddiadau i ddod" in html and "No upcoming events" not in html
    assert '<html lang="cy">' in html  # screen readers pronounce the page as Welsh


def test_a_flash_message_and_a_manage_page_speak_the_catalogue(
    client, organiser, group, fresh_translations
):
    log_in(client, organiser)
    welcome = client.get("/").get_data(as_text=True)
    assert f"Croeso nôl, {organiser.display_name}." in welcome
    assert "Welcome back" not in welcome

    manage = client.get("/manage/").get_data(as_text=True)
    assert f"Rheoli {group.name}" in manage and f"Manage {group.name}" not in manage


def test_an_error_page_speaks_the_catalogue(client, fresh_translations):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Does dim byd yma." in page.get_data(as_text=True)
