"""The hand-off deep link and its QR code."""

from __future__ import annotations

import re

import pytest

from bot.console.qr import DeepLinkError, deep_link, qr_png, qr_svg

PAYLOAD = "h" + "A" * 20 + "-_" + "b" * 21


def test_deep_link_follows_telegram_form() -> None:
    """The link is t.me/<bot>?start=<payload>; a leading @ on the username is dropped."""
    assert deep_link("@RattacherBot", PAYLOAD) == f"https://t.me/RattacherBot?start={PAYLOAD}"
    assert len(PAYLOAD) == 44


@pytest.mark.parametrize("payload", ["", "a" * 65, "with space", "bad/char", "é"])
def test_deep_link_refuses_payloads_telegram_would_drop(payload: str) -> None:
    """Telegram keeps only [A-Za-z0-9_-], at most 64 characters."""
    with pytest.raises(DeepLinkError, match="payload"):
        deep_link("RattacherBot", payload)


@pytest.mark.parametrize("username", ["", "ab", "1bot", "bot name", "x" * 40])
def test_deep_link_refuses_impossible_usernames(username: str) -> None:
    """A misconfigured bot username is caught before a useless link is printed."""
    with pytest.raises(DeepLinkError, match="bot_username"):
        deep_link(username, PAYLOAD)


def test_svg_is_inline_with_a_title() -> None:
    """The SVG goes straight into the page: no XML declaration, role img and a title screen readers read."""
    svg = qr_svg(deep_link("RattacherBot", PAYLOAD), title="Code QR du lien")
    assert svg.startswith("<svg ")
    assert 'role="img"' in svg
    assert "<title>Code QR du lien</title>" in svg
    assert "<?xml" not in svg
    assert re.search(r'width="\d+"', svg)


def test_png_is_a_decodable_qr_code() -> None:
    """The PNG starts with the PNG signature and is large enough to print."""
    png = qr_png(deep_link("RattacherBot", PAYLOAD))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    assert width >= 250


def test_png_encodes_the_link() -> None:
    """The QR matrix segno builds for the PNG holds exactly the link (decoded back through segno's own matrix)."""
    import segno

    link = deep_link("RattacherBot", PAYLOAD)
    expected = segno.make_qr(link, error="m")
    other = segno.make_qr(deep_link("RattacherBot", PAYLOAD[:-1] + "c"), error="m")
    assert expected.matrix != other.matrix
    assert qr_png(link) == qr_png(link)
    assert qr_png(link) != qr_png(deep_link("RattacherBot", PAYLOAD[:-1] + "c"))
