"""The Telegram deep link of a hand-off and its QR code (SVG for the page, PNG to download or print)."""

from __future__ import annotations

import io
import re

import segno

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DeepLinkError(ValueError):
    """The bot's username or the payload cannot make a Telegram deep link."""


def deep_link(bot_username: str, payload: str) -> str:
    """Return `https://t.me/<bot>?start=<payload>`, checking Telegram's rules for both parts."""
    username = bot_username.removeprefix("@")
    if not _USERNAME.fullmatch(username):
        raise DeepLinkError("bot_username")
    if not _PAYLOAD.fullmatch(payload):
        raise DeepLinkError("payload")
    return f"https://t.me/{username}?start={payload}"


def _code(link: str) -> segno.QRCode:
    """Encode the link with medium error correction (readable from a printed or photographed sheet)."""
    return segno.make_qr(link, error="m")


def qr_svg(link: str, *, title: str) -> str:
    """Return the QR code as an inline SVG element with a title (for screen readers), no XML declaration."""
    buffer = io.BytesIO()
    _code(link).save(
        buffer,
        kind="svg",
        scale=5,
        border=4,
        xmldecl=False,
        svgns=True,
        title=title,
        svgclass="rattacher-qr",
        lineclass=None,
        omitsize=False,
        dark="#000000",
        light="#ffffff",
    )
    svg = buffer.getvalue().decode("utf-8")
    return svg.replace("<svg ", '<svg role="img" ', 1)


def qr_png(link: str, *, scale: int = 10) -> bytes:
    """Return the QR code as PNG bytes, large enough to print (10 px per module by default)."""
    buffer = io.BytesIO()
    _code(link).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
