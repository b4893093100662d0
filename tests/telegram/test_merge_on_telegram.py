"""The whole merge on Telegram, end to end: fake Bot API ↔ python-telegram-bot ↔ engine ↔ service."""

from __future__ import annotations

from collections import Counter

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import (
    DemoService,
    demo_bot_polling,
    real_engine,
    webhook_bot,
    webhook_settings,
)
from tests.telegram.merge_flow import CAMILLE
from tests.telegram.telegram_parent import TelegramParent


async def test_the_whole_merge_by_long_polling(fake_bot_api: FakeBotApi, demo_service: DemoService) -> None:
    parent = TelegramParent(fake_bot_api, user_id=2001, language_code="fr")
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.gather_camilles_children(parent)

    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)
    assert set(fake_bot_api.answered_callbacks) == {
        call.parameters["callback_query_id"] for call in fake_bot_api.calls_of("answerCallbackQuery")
    }
    assert len(fake_bot_api.answered_callbacks) == 6, "every button press is answered"
    polls = fake_bot_api.calls_of("getUpdates")
    assert all(poll.parameters["allowed_updates"] == ["message", "callback_query"] for poll in polls)


async def test_a_merge_costs_six_messages_and_the_two_password_deletions(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    """Issue 11: Bot API calls counted against the per-bot budget (those carrying a chat_id), for a whole merge."""
    parent = TelegramParent(fake_bot_api, user_id=2003, language_code="fr")
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await merge_flow.find_other_account(parent)
        done = parent.n_(
            "Done! This child was added to your account:", "Done! These children were added to your account:", 2
        )
        await parent.press_and_wait(parent._(merge_flow.APPLY), done)

    in_chat = [call.method for call in fake_bot_api.calls if call.parameters.get("chat_id") == parent.chat.id]
    assert Counter(in_chat) == {"sendMessage": 6, "deleteMessage": 2}
    assert len(fake_bot_api.calls_of("answerCallbackQuery")) == 1, "one button: « Ajouter ces élèves à mon compte »"


async def test_the_whole_merge_by_webhook_in_english(fake_bot_api: FakeBotApi, demo_service: DemoService) -> None:
    parent = TelegramParent(fake_bot_api, user_id=2002, language_code="en")
    async with real_engine(demo_service) as engine, webhook_bot(webhook_settings(fake_bot_api), engine):
        await merge_flow.gather_camilles_children(parent)

    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)
    assert fake_bot_api.calls_of("getUpdates") == []
    assert all(status == 200 for _, status in fake_bot_api.webhook_deliveries)
