"""The dialog's hard cases on Telegram, end to end against the real engine and service."""

from __future__ import annotations

import asyncio

import pytest

from bench.fake_bot_api import FakeBotApi
from tests.telegram import merge_flow
from tests.telegram.conftest import DemoService, demo_bot_polling
from tests.telegram.merge_flow import CAMILLE, NADIA
from tests.telegram.telegram_parent import TelegramParent

THROTTLED = (
    "Too many tries. For your security, please wait {wait} before trying again. "
    "Then type the password again: I kept the identifier."
)
NAMES_DIFFER = "The two accounts do not have exactly the same last name and first name, so I cannot gather them."


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_wrong_passwords_keep_the_identifier_until_throttled_then_waiting_is_enough(
    fake_bot_api: FakeBotApi, demo_service: DemoService, language: str
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=3001 if language == "fr" else 3011, language_code=language)
    wrong_passwords = [f"Mauvais-Mot-{attempt}" for attempt in range(5)]
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.start_linking(parent)
        await merge_flow.ask_password_of(parent, CAMILLE.kept)
        for wrong in wrong_passwords:  # the identifier is kept: only the password is typed again
            await parent.says(wrong, expect=merge_flow.WRONG_CREDENTIALS, identifier=CAMILLE.kept)
        before_wait = parent._(THROTTLED).split("{wait}")[0]
        throttled = await parent.send_and_wait(CAMILLE.kept_password, before_wait)
        assert parent._(merge_flow.LOGGED_IN, identifier=CAMILLE.kept) not in throttled.text
        await asyncio.sleep(3)  # the wait announced (in seconds here) is enough
        await parent.says(CAMILLE.kept_password, expect=merge_flow.LOGGED_IN, identifier=CAMILLE.kept)

    merge_flow.assert_passwords_deleted(parent, *wrong_passwords, CAMILLE.kept_password)


async def test_accounts_whose_names_differ_are_not_gathered(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=3002)
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await merge_flow.ask_password_of(parent, merge_flow.NAMES_DIFFER_ACCOUNT)
        refusal = await parent.says(merge_flow.NAMES_DIFFER_PASSWORD, expect=NAMES_DIFFER)
        listing = await parent.presses("My children", expect=merge_flow.MY_CHILDREN_TITLE, identifier=CAMILLE.kept)

    assert parent._("Talk to an agent") in [button["text"] for button in refusal.buttons]
    assert "I 20/06/2012" not in listing.text, "nothing was gathered"
    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, merge_flow.NAMES_DIFFER_PASSWORD)


async def test_stale_and_forged_buttons_get_a_notice_and_change_nothing(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=3003)
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        roles = await merge_flow.find_other_account(parent)
        stale = roles.button_data(parent._(merge_flow.APPLY))
        await parent.presses(merge_flow.MATHIS, expect=merge_flow.MATHIS)  # edited in place: a new rendering
        await parent.presses(merge_flow.MATHIS, expect=merge_flow.MATHIS)
        forged = await parent.press_answered_without_change(roles, stale.split(".")[0] + ".apply-all")
        assert forged == parent._("This button is no longer valid. Please use the buttons of the last message.")

        apply_data = roles.button_data(parent._("Add these students to my account"))
        await parent.presses("Add these students to my account", expect="My children")
        again = await parent.press_answered_without_change(roles, apply_data)
        assert again == parent._("This is already done: the children were added to your account.")
        await merge_flow.show_my_children(parent, not_guardian=())


async def test_a_restart_in_the_middle_of_the_flow_resumes_at_the_same_step(
    fake_bot_api: FakeBotApi, demo_service: DemoService
) -> None:
    parent = TelegramParent(fake_bot_api, user_id=3004)
    async with demo_bot_polling(fake_bot_api, demo_service):
        await merge_flow.log_in(parent)
        await merge_flow.ask_password_of(parent, CAMILLE.other)

    before = parent.snapshot()
    fake_bot_api.user_sends(parent.chat, CAMILLE.other_password)  # typed while the bot is down
    async with demo_bot_polling(fake_bot_api, demo_service):
        found = await parent.reply_containing(parent._(merge_flow.APPLY), before)
        assert merge_flow.CHLOE in found.text and merge_flow.MATHIS in found.text
        await merge_flow.add_children_not_guardian_of_mathis(parent)
        await merge_flow.show_my_children(parent)

    merge_flow.assert_passwords_deleted(parent, CAMILLE.kept_password, CAMILLE.other_password)


async def test_two_chats_run_at_once(fake_bot_api: FakeBotApi, demo_service: DemoService) -> None:
    camille = TelegramParent(fake_bot_api, user_id=3005)
    nadia = TelegramParent(fake_bot_api, user_id=3006, language_code="en")

    async def gather_nadias_children() -> None:
        await merge_flow.log_in(nadia, NADIA)
        await merge_flow.find_other_account(nadia, NADIA)
        await nadia.presses("Add these students to my account", expect="My children")
        await merge_flow.show_my_children(nadia, NADIA, not_guardian=())

    async with demo_bot_polling(fake_bot_api, demo_service):
        await asyncio.gather(merge_flow.gather_camilles_children(camille), gather_nadias_children())

    merge_flow.assert_passwords_deleted(camille, CAMILLE.kept_password, CAMILLE.other_password)
    merge_flow.assert_passwords_deleted(nadia, NADIA.kept_password, NADIA.other_password)
