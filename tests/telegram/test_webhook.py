"""Webhook mode: registration, the secret token, /healthz, and redelivery after a failure."""

from __future__ import annotations

import aiohttp

from bench.fake_bot_api import SECRET_TOKEN_HEADER, FakeBotApi
from tests.telegram.conftest import WEBHOOK_SECRET, webhook_bot, webhook_settings
from tests.telegram.scripted_engine import ScriptedEngine


async def test_the_webhook_registers_itself_and_serves_updates(fake_bot_api: FakeBotApi) -> None:
    settings = webhook_settings(fake_bot_api)
    chat = fake_bot_api.private_chat(51)
    engine = ScriptedEngine()
    async with webhook_bot(settings, engine):
        fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: chat.bot_messages)
        async with aiohttp.ClientSession() as http:
            health = await http.get(str(settings.webhook_url).replace("/telegram/webhook", "/healthz"))
            assert (health.status, await health.json()) == (200, {"status": "ok"})

    [registration] = fake_bot_api.calls_of("setWebhook")
    assert registration.parameters["url"] == settings.webhook_url
    assert registration.parameters["secret_token"] == WEBHOOK_SECRET
    assert registration.parameters["allowed_updates"] == ["message", "callback_query"]
    assert registration.parameters.get("drop_pending_updates", False) is False
    assert fake_bot_api.calls_of("getUpdates") == []
    assert [message.text for message in chat.bot_messages] == ["reçu : bonjour"]
    assert [status for _, status in fake_bot_api.webhook_deliveries] == [200]


async def test_a_wrong_secret_token_is_refused(fake_bot_api: FakeBotApi) -> None:
    settings = webhook_settings(fake_bot_api)
    engine = ScriptedEngine()
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 52, "type": "private"},
            "text": "bonjour",
        },
    }
    async with webhook_bot(settings, engine), aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_TOKEN_HEADER: "not-the-secret"}):
            async with http.post(str(settings.webhook_url), json=update, headers=headers) as answer:
                assert answer.status == 403
        async with http.post(
            str(settings.webhook_url), data=b"not json", headers={SECRET_TOKEN_HEADER: WEBHOOK_SECRET}
        ) as answer:
            assert answer.status == 400
    assert engine.received == []


async def test_an_update_that_could_not_be_answered_is_delivered_again(
    fake_bot_api: FakeBotApi,
) -> None:
    settings = webhook_settings(fake_bot_api, send_attempts=2)
    chat = fake_bot_api.private_chat(53)
    engine = ScriptedEngine()
    fake_bot_api.fail_next("sendMessage", times=2)
    async with webhook_bot(settings, engine):
        fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: chat.bot_messages)

    assert [status for _, status in fake_bot_api.webhook_deliveries] == [500, 200]
    assert len(engine.received) == 1, "the engine applied the step once"
    assert [message.text for message in chat.bot_messages] == ["reçu : bonjour"]


async def test_a_parent_who_blocked_the_bot_is_not_a_redelivery_loop(
    fake_bot_api: FakeBotApi,
) -> None:
    chat = fake_bot_api.private_chat(54)
    engine = ScriptedEngine()
    fake_bot_api.refuse_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    async with webhook_bot(webhook_settings(fake_bot_api), engine):
        fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: fake_bot_api.webhook_deliveries)

    assert fake_bot_api.webhook_deliveries[0][1] == 200
    assert len(engine.received) == 1 and chat.bot_messages == []


async def test_the_webhook_accepts_the_other_secret_token_during_a_rotation(fake_bot_api: FakeBotApi) -> None:
    settings = webhook_settings(fake_bot_api, webhook_also_accepted_secret_token="the-next-secret")
    fake_bot_api.private_chat(53)
    engine = ScriptedEngine()
    update = {
        "update_id": 7,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 53, "type": "private"}, "text": "bonjour"},
    }
    async with webhook_bot(settings, engine), aiohttp.ClientSession() as http:
        for secret, status in ((WEBHOOK_SECRET, 200), ("the-next-secret", 200), ("neither", 403)):
            async with http.post(str(settings.webhook_url), json=update, headers={SECRET_TOKEN_HEADER: secret}) as got:
                assert got.status == status, secret
    [registration] = fake_bot_api.calls_of("setWebhook")
    assert registration.parameters["secret_token"] == WEBHOOK_SECRET, "only the current one is registered"
