"""The fake server's validator: valid calls pass, each kind of invalid call is caught."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bench.fake_bot_api import FakeBotApi
from tests.telegram.bot_api_schema import bot_api_schema
from tests.telegram.conftest import BOT_TOKEN

KEYBOARD = {"inline_keyboard": [[{"text": "Continuer", "callback_data": "c:1"}]]}


def test_a_valid_call_with_nested_objects_passes() -> None:
    call = {
        "chat_id": 42,
        "text": "Bonjour",
        "reply_markup": KEYBOARD,
        "reply_parameters": {"message_id": 3},
    }
    assert bot_api_schema().check_call("sendMessage", call) == []


@pytest.mark.parametrize(
    ("method", "parameters", "expected"),
    [
        ("sendMesage", {"chat_id": 1, "text": "a"}, "no such method"),
        ("sendMessage", {"chat_id": 1}, "missing required parameter 'text'"),
        ("sendMessage", {"chat_id": 1, "text": "a", "colour": "red"}, "unknown parameter 'colour'"),
        ("sendMessage", {"chat_id": 1.5, "text": "a"}, "expected"),
        ("sendMessage", {"chat_id": 1, "text": "a", "disable_notification": "yes"}, "Boolean"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, "4097 characters"),
        ("sendMessage", {"chat_id": 1, "text": ""}, "0 characters"),
        ("deleteMessage", {"chat_id": 1, "message_id": "7"}, "expected Integer"),
        (
            "sendMessage",
            {
                "chat_id": 1,
                "text": "a",
                "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "é" * 33}]]},
            },
            "66 bytes",
        ),
        (
            "sendMessage",
            {"chat_id": 1, "text": "a", "reply_markup": {"inline_keyboard": [{"text": "b"}]}},
            "expected Array of InlineKeyboardButton",
        ),
        ("sendMessage", {"chat_id": 1, "text": "a", "reply_parameters": {"chat_id": 1}}, "'message_id'"),
        ("setMyCommands", {"commands": [{"command": "Start", "description": "x"}]}, "[a-z0-9_]"),
        ("setMyCommands", {"commands": [{"command": "start"}]}, "'description'"),
        ("setMyCommands", {"commands": [], "scope": {"type": "everyone"}}, "type must be"),
        ("answerCallbackQuery", {"callback_query_id": "1", "text": "n" * 201}, "201 characters"),
    ],
)
def test_an_invalid_call_is_rejected(method: str, parameters: dict, expected: str) -> None:
    problems = bot_api_schema().check_call(method, parameters)
    assert any(expected in problem for problem in problems), problems


def test_form_values_are_decoded_by_their_declared_type() -> None:
    raw = {"chat_id": "-100123", "text": "123", "reply_markup": json.dumps(KEYBOARD), "disable_notification": "true"}
    decoded = bot_api_schema().decode_form_parameters("sendMessage", raw)
    assert decoded == {"chat_id": -100123, "text": "123", "reply_markup": KEYBOARD, "disable_notification": True}


async def test_the_fake_server_refuses_and_records_an_invalid_call() -> None:
    server = FakeBotApi(BOT_TOKEN, bot_api_schema())
    await server.start()
    try:
        server.private_chat(42)
        async with aiohttp.ClientSession() as http:
            url = f"{server.base_url}{BOT_TOKEN}/sendMessage"
            async with http.post(url, data={"chat_id": "42", "text": "a", "colour": "red"}) as refused:
                assert refused.status == 400
                assert (await refused.json())["ok"] is False
            async with http.post(url, json={"chat_id": 42, "text": "a"}) as accepted:
                assert (await accepted.json())["result"]["text"] == "a"
    finally:
        await server.stop()
    assert server.violations == ["sendMessage: unknown parameter 'colour'"]
