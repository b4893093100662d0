"""The bot keeps nothing per chat once an update is handled: PTB's persistence marks do not pile up."""

from __future__ import annotations

import asyncio

from bench.fake_bot_api import FakeBotApi
from bot.telegram.application import build_application, serve_polling
from tests.telegram.conftest import bot_settings, channel_for
from tests.telegram.scripted_engine import ScriptedEngine

CHATS = 5


async def test_chats_seen_leave_no_persistence_marks_behind(fake_bot_api: FakeBotApi) -> None:
    settings = bot_settings(fake_bot_api)
    application = build_application(settings, channel_for(settings, ScriptedEngine()))
    stop = asyncio.Event()
    task = asyncio.create_task(serve_polling(application, settings, stop))
    try:
        chats = [fake_bot_api.private_chat(7000 + number) for number in range(CHATS)]
        for chat in chats:
            fake_bot_api.user_sends(chat, "bonjour")
        await fake_bot_api.wait_for(lambda: task.done() or all(chat.bot_messages for chat in chats))
    finally:
        stop.set()
        await task
    assert all(chat.bot_messages for chat in chats)
    # Without a PTB persistence nothing ever clears these: one entry per chat and user ever seen, for good.
    assert not application._chat_ids_to_be_updated_in_persistence
    assert not application._user_ids_to_be_updated_in_persistence
