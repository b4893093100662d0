"""Who may enter and who is a supervisor, the agent as the service will know them, X-Agent."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from bot.console.oidc import decide, first_name, identity_from
from bot.console.service_client import AgentIdentity, service_subject
from bot.console.settings import ConsoleSettings

SETTINGS = ConsoleSettings(
    _env_file=None,
    agent_email_domains=["Agents.Example.fr"],
    agent_claim_values=["helpdesk"],
    supervisor_emails=["chef@ailleurs.fr"],
    supervisor_claim_values=["superviseurs"],
)


@pytest.mark.parametrize(
    ("claims", "allowed", "supervisor"),
    [
        ({"email": "zoe@agents.example.fr"}, False, False),  # email_verified missing: not trusted by default
        ({"email": "ZOE@AGENTS.EXAMPLE.FR", "email_verified": True}, True, False),
        ({"email": "zoe@agents.example.fr", "email_verified": "true"}, True, False),
        ({"email": "zoe@agents.example.fr", "email_verified": False}, False, False),
        ({"email": "zoe@agents.example.fr", "email_verified": "false"}, False, False),
        ({"email": "zoe@sub.agents.example.fr", "email_verified": True}, False, False),
        ({"email": "zoe@agents.example.fr.evil.com", "email_verified": True}, False, False),
        ({"email": "x@y.fr", "groups": ["helpdesk", "autre"]}, True, False),
        ({"email": "x@y.fr", "groups": "autre helpdesk"}, True, False),
        ({"email": "chef@ailleurs.fr", "email_verified": True}, True, True),
        ({"email": "chef@ailleurs.fr", "email_verified": "false"}, False, False),
        ({"groups": ["superviseurs"]}, True, True),
        ({"email": "x@y.fr", "groups": ["helpdesk-stagiaires"]}, False, False),
        ({}, False, False),
    ],
)
def test_the_rules_decide_who_enters_and_who_supervises(
    claims: dict[str, Any], allowed: bool, supervisor: bool
) -> None:
    decision = decide(claims, SETTINGS)
    assert (decision.allowed, decision.supervisor) == (allowed, supervisor)


def test_the_first_name_for_parents_and_the_subject_for_the_service() -> None:
    assert first_name({"given_name": " Zoé  Marie "}, None) == "Zoé Marie"
    assert first_name({"name": "Inès Dupont"}, None) == "Inès"
    assert first_name({}, "jean.dupont@agents.example.fr") == "Jean"
    assert len(first_name({"given_name": "A" * 80}, None)) == 50
    assert service_subject("zoe-1") == "zoe-1"
    long_subject = service_subject("x" * 200)
    assert long_subject.startswith("sha256:") and len(long_subject) <= 80
    assert service_subject("sub with spaces") != "sub with spaces"
    decision = decide({"email": "chef@ailleurs.fr", "email_verified": True}, SETTINGS)
    assert identity_from({"sub": "s-1", "given_name": "Inès", "email": "chef@ailleurs.fr"}, decision) == AgentIdentity(
        "s-1", "Inès", supervisor=True
    )


def test_x_agent_is_form_encoded_utf8_with_the_role_only_for_supervisors() -> None:
    assert AgentIdentity("oidc|zoe-1", "Zoé").header() == "sub=oidc%7Czoe-1&name=Zo%C3%A9"
    header = AgentIdentity("s", "Inès & Co", supervisor=True).header()
    assert urllib.parse.parse_qs(header) == {"sub": ["s"], "name": ["Inès & Co"], "role": ["supervisor"]}


def test_a_provider_that_never_sends_email_verified_can_be_trusted_explicitly() -> None:
    trusting = SETTINGS.model_copy(update={"oidc_require_email_verified": False})
    assert decide({"email": "zoe@agents.example.fr"}, trusting).allowed
    assert not decide({"email": "zoe@agents.example.fr", "email_verified": False}, trusting).allowed
