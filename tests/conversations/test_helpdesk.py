"""The helpdesk in the dialog, on the fake service: escalation context, helpdesk mode, deliveries, hand-off links."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from conversations.deliveries import DeliveryPoller
from conversations.engine import DialogEngine, Outcome
from conversations.service_port import Handoff
from conversations.state import DialogState, Step
from tests.conversations.fake_service import FakeAccountService, FakeEscalation
from tests.conversations.support import Chat, stored_chat

KEEP = ("c.martin", "Soleil-Bleu-2026")
OTHER = ("c.martin7", "K7QX-M2PA-9TZC")
PAYLOAD = "hQx7_ValidHandoffPayload-0123456789abcdefghij"
PARIS_WINTER = timezone(timedelta(hours=1))


class Shown:
    """The channel side of the poller: what was shown in which chat; can fail on demand."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, Outcome]] = []
        self.failing = False

    async def __call__(self, chat_key: str, outcome: Outcome) -> None:
        if self.failing:
            raise ConnectionError("channel down")
        self.outcomes.append((chat_key, outcome))

    def text(self) -> str:
        return "\n".join(reply.text for _key, outcome in self.outcomes for reply in outcome.replies)


async def start_linking(chat: Chat) -> None:
    """/start, logged in with the account to keep (the welcome asks its identifier): « Recherchez le compte »."""
    await chat.command("start")
    await chat.text(KEEP[0])
    await chat.text(KEEP[1])


def poller(engine: DialogEngine, fake_service: FakeAccountService, shown: Shown) -> DeliveryPoller:
    return DeliveryPoller(fake_service, engine, shown, channels=frozenset({"test"}), wait_seconds=0)


def open_escalation(fake_service: FakeAccountService) -> FakeEscalation:
    [escalation] = [e for e in fake_service.helpdesk.escalations if e.open]
    return escalation


async def test_the_escalation_carries_what_an_agent_needs_and_no_password(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    await start_linking(chat)
    await chat.text("c.martinez")
    await chat.text("R4TW-9HKP-3MXE")  # names differ: refused, an agent offered
    await chat.press("Parler à un conseiller")
    [request] = fake_service.escalations
    assert request.reason == "names_differ"
    assert request.step == Step.MY_CHILDREN.value and request.language == "fr"
    assert request.collected == {"identifier": "c.martin", "source_identifier": "c.martinez"}
    assert [(c.initial, c.birth_date) for c in request.children_seen] == [("L", date(2015, 9, 15))]
    assert request.error_codes == ["names_differ"]
    assert request.throttle is None
    dumped = request.model_dump_json()
    assert KEEP[1] not in dumped and "R4TW-9HKP-3MXE" not in dumped
    assert "[mot de passe masqué]" in dumped


async def test_the_children_of_a_preview_and_the_throttle_go_with_the_escalation(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    await start_linking(chat)
    await chat.text(OTHER[0])
    await chat.text(OTHER[1])  # the preview: Chloé and Mathis
    await chat.command("annuler")
    await chat.press("Ajouter des élèves")
    await chat.text(OTHER[0])
    for _attempt in range(6):  # wrong passwords until the service asks to wait
        await chat.text("Mauvais-Mot-2026")
    await chat.command("conseiller")
    [request] = fake_service.escalations
    seen = {(c.initial, c.birth_date) for c in request.children_seen}
    assert {("C", date(2007, 4, 11)), ("M", date(2010, 1, 4)), ("L", date(2015, 9, 15))} <= seen
    assert "throttled" in request.error_codes and "invalid_credentials" in request.error_codes
    assert request.throttle is not None and not request.throttle.locked
    assert request.throttle.retry_after_seconds is not None and request.throttle.retry_after_seconds > 0
    assert "Mauvais-Mot-2026" not in request.model_dump_json()


async def test_asking_again_says_where_the_request_stands(chat: Chat, fake_service: FakeAccountService) -> None:
    other = Chat(chat.engine, chat_key="test:2")
    await other.command("conseiller")  # someone asked first
    await chat.command("start")
    first = await chat.command("conseiller")
    text = "\n".join(reply.text for reply in first.replies)
    assert "J’ai transmis votre demande à l’assistance (référence ESC-0002)" in text
    assert "Vous êtes en position 2 dans la file d’attente." in text
    assert "Attente estimée\u00a0: environ 10 minutes." in text
    assert "/annuler" in text
    again = await chat.press("Parler à un conseiller")
    text = "\n".join(reply.text for reply in again.replies)
    assert "Votre demande est déjà transmise (référence ESC-0002)." in text
    assert "position 2" in text and "environ 10 minutes" in text
    assert len([e for e in fake_service.helpdesk.escalations if e.open]) == 2, "one open escalation per chat"

    fake_service.helpdesk.expected_wait_seconds = 50
    await other.command("annuler")
    await chat.command("conseiller")
    assert "Vous êtes le prochain dans la file d’attente." in chat.last_text
    assert "Attente estimée\u00a0: environ 1 minute." in chat.last_text


async def test_outside_opening_hours_it_says_when_agents_are_back(chat: Chat, fake_service: FakeAccountService) -> None:
    fake_service.helpdesk.open_now = False
    fake_service.helpdesk.agents_back_at = datetime(2026, 11, 30, 9, 0, tzinfo=PARIS_WINTER)
    await chat.command("conseiller")
    assert (
        "L’assistance est fermée en ce moment\u00a0: les conseillers reviennent lundi 30 novembre à 9\u00a0h\u00a000."
        in (chat.last_text)
    )
    english = Chat(chat.engine, chat_key="test:en", language="en")
    await english.command("conseiller")
    assert "agents are back on Monday 30 November at 9:00." in english.last_text


async def test_annuler_withdraws_the_request_and_the_bot_takes_over(
    chat: Chat, fake_service: FakeAccountService, database_url: str
) -> None:
    await chat.command("conseiller")
    escalation = open_escalation(fake_service)
    await chat.command("annuler")
    assert escalation.state == "withdrawn"
    assert "J’ai retiré votre demande ESC-0001" in chat.last_text
    assert "Pour rattacher un enfant" in chat.last_text, "the welcome is back"
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is None
    assert "«\u00a0Identifiant\u00a0»" in chat.last_text


async def test_while_escalated_messages_go_to_the_request_and_passwords_never(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    await start_linking(chat)
    await chat.text(OTHER[0])  # at the other account's password step
    await chat.command("conseiller")
    escalation = open_escalation(fake_service)
    first = await chat.text("Je ne trouve pas le courrier de l’école")
    assert "Transmis à l’assistance (référence ESC-0001)." in chat.last_text and not first.delete_inbound
    second = await chat.text("Il est peut-être chez mon ex-mari")
    assert second.replies == (), "acknowledged once"
    pasted = await chat.text(f"voici le mot de passe {OTHER[1]}")
    assert pasted.delete_inbound
    assert "Ne m’envoyez jamais de mot de passe, même pour un conseiller" in chat.last_text
    assert escalation.parent_messages == [
        "Je ne trouve pas le courrier de l’école",
        "Il est peut-être chez mon ex-mari",
    ]
    assert OTHER[1] not in repr(fake_service.received_passwords[1:]), "nothing sent to verify either"
    earlier = await chat.press("Mes enfants")  # a button of the welcome, before the escalation
    assert (
        earlier.replies == ()
        and earlier.notice == "L’assistance a votre demande. Pour revenir vers moi, tapez /annuler."
    )
    await chat.command("aide")
    assert "Vous êtes en contact avec l’assistance" in chat.last_text


async def test_agents_messages_reach_the_chat_and_a_hand_back_resumes_the_merge(
    make_engine, fake_service: FakeAccountService, database_url: str
) -> None:
    engine = make_engine()
    chat, shown = Chat(engine, chat_key="test:7"), Shown()
    await chat.log_in(*KEEP)
    await chat.command("conseiller")
    escalation = open_escalation(fake_service)
    helpdesk = fake_service.helpdesk

    helpdesk.agent_sends(escalation, "claimed")
    helpdesk.agent_sends(escalation, "text", "Bonjour, je regarde votre dossier.")
    sent = await poller(engine, fake_service, shown).poll_once()
    assert sent == [1, 2] and helpdesk.acknowledged == [1, 2]
    assert [key for key, _outcome in shown.outcomes] == ["test:7", "test:7"]
    assert "Zoé, de l’assistance, a pris votre demande." in shown.text()
    assert "💬 Zoé, assistance\u00a0:\nBonjour, je regarde votre dossier." in shown.text()
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is not None and state.helpdesk.state == "claimed"
    assert state.helpdesk.agent_first_name == "Zoé"

    await chat.text("Merci !")
    assert escalation.parent_messages == ["Merci !"]

    helpdesk.agent_sends(escalation, "handed_back", "Le compte c.martin7 est prêt.", resume_point="start_merge")
    await poller(engine, fake_service, shown).poll_once()
    said = shown.outcomes[-1][1].replies[0].text
    assert said.index("Le compte c.martin7 est prêt.") < said.index("De retour avec moi")
    assert "vous êtes connecté avec le compte c.martin" in said
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is None and state.step == Step.SOURCE_IDENTIFIER

    await chat.text(OTHER[0])
    await chat.text(OTHER[1])
    await chat.press("Ajouter ces élèves")
    assert "Ces enfants ont été ajoutés à votre compte" in chat.last_text
    assert fake_service.merges_applied == 1


async def test_released_and_closed_are_said_and_closed_gives_the_dialog_back(
    make_engine, fake_service: FakeAccountService, database_url: str
) -> None:
    engine = make_engine()
    chat, shown = Chat(engine, chat_key="test:8"), Shown()
    await chat.command("conseiller")
    escalation = open_escalation(fake_service)
    fake_service.helpdesk.agent_sends(escalation, "claimed")
    fake_service.helpdesk.agent_sends(escalation, "released")
    await poller(engine, fake_service, shown).poll_once()
    assert "de nouveau dans la file d’attente" in shown.text()
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is not None and state.helpdesk.state == "waiting"

    fake_service.helpdesk.agent_sends(escalation, "closed")
    await poller(engine, fake_service, shown).poll_once()
    assert "L’assistance a terminé la conversation." in shown.text()
    assert "Pour rattacher un enfant, connectez-vous d’abord" in shown.text()
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is None
    [menu] = [reply for _key, outcome in shown.outcomes for reply in outcome.replies if reply.buttons]
    await chat.press_data(menu.buttons[0][0].data)
    assert "«\u00a0Identifiant\u00a0»" in chat.last_text


async def test_a_delivery_not_shown_is_not_acknowledged_and_comes_back_in_order(
    make_engine, fake_service: FakeAccountService
) -> None:
    engine = make_engine()
    chat, shown = Chat(engine, chat_key="test:9"), Shown()
    await chat.command("conseiller")
    escalation = open_escalation(fake_service)
    fake_service.helpdesk.agent_sends(escalation, "text", "Premier")
    fake_service.helpdesk.agent_sends(escalation, "text", "Second")
    shown.failing = True
    assert await poller(engine, fake_service, shown).poll_once() == []
    assert fake_service.helpdesk.acknowledged == []
    shown.failing = False
    assert await poller(engine, fake_service, shown).poll_once() == [1, 2]
    assert shown.text().index("Premier") < shown.text().index("Second")


async def test_each_chat_is_acknowledged_as_soon_as_its_messages_are_shown(
    make_engine, fake_service: FakeAccountService
) -> None:
    engine = make_engine()
    first, second = Chat(engine, chat_key="test:1"), Chat(engine, chat_key="test:2")
    for chat in (first, second):
        await chat.command("conseiller")
    for escalation in [e for e in fake_service.helpdesk.escalations if e.open]:
        fake_service.helpdesk.agent_sends(escalation, "text", "Bonjour")
    acknowledged_when_shown: dict[str, list[int]] = {}

    class Watching(Shown):
        async def __call__(self, chat_key: str, outcome: Outcome) -> None:
            acknowledged_when_shown[chat_key] = list(fake_service.helpdesk.acknowledged)
            await super().__call__(chat_key, outcome)

    assert await poller(engine, fake_service, Watching()).poll_once() == [1, 2]
    assert acknowledged_when_shown == {"test:1": [], "test:2": [1]}  # the first chat was freed before the second


async def test_an_escalation_ended_elsewhere_gives_the_dialog_back(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    await chat.command("conseiller")
    open_escalation(fake_service).state = "closed"  # closed while this process was down: no delivery seen
    await chat.command("start")
    assert "Pour rattacher un enfant, connectez-vous d’abord" in chat.last_text


async def test_a_hand_off_link_starts_where_the_agent_said(
    chat: Chat, fake_service: FakeAccountService, database_url: str
) -> None:
    fake_service.helpdesk.handoffs[PAYLOAD] = Handoff(
        handoff_id=1,
        journey_id=5,
        language="en",
        start_at="start_merge",
        keep_identifier="c.martin",
        note="Your file is ready.",
        agent_first_name="Zoé",
    )
    await chat.command("start", PAYLOAD)
    text = chat.last_text
    assert "Zoé, from the helpdesk, sent you this link" in text
    assert text.index("Your file is ready.") < text.index("c.martin")
    assert "type the password of the account c.martin." in text, "the identifier of the account to keep, pre-filled"
    assert fake_service.helpdesk.journeys == [(chat.chat_key, "en")], "the redeem started the journey"
    await chat.text(KEEP[1])
    assert "Login successful with the account c.martin." in chat.last_text
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert PAYLOAD not in state.model_dump_json(), "the hand-off payload is kept out of the transcript"
    assert state.transcript[0].text == "/start"

    again = Chat(chat.engine, chat_key="test:again")
    await again.command("start", PAYLOAD)
    assert "Ce lien n’est plus valable (il a déjà servi, ou il a expiré)." in again.last_text
    assert "Pour rattacher un enfant, connectez-vous d’abord" in again.last_text, "a plain /start, never an error"
    forged = Chat(chat.engine, chat_key="test:forged")
    await forged.command("start", "../../etc/passwd")
    assert (
        "Ce lien n’est plus valable" in forged.last_text
        and "Pour rattacher un enfant, connectez-vous d’abord" in forged.last_text
    )


async def test_a_hand_off_link_opened_while_the_service_is_down_is_not_called_invalid(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    fake_service.unavailable = True
    await chat.command("start", PAYLOAD)
    assert "Je ne peux pas ouvrir ce lien pour le moment" in chat.last_text
    assert "plus valable" not in chat.last_text, "a valid link is not called used or expired during an outage"


async def test_a_journey_starts_once_per_fresh_dialog(chat: Chat, fake_service: FakeAccountService, clock) -> None:
    await chat.command("start")
    assert fake_service.helpdesk.journeys == [(chat.chat_key, "fr")]
    clock.advance(hours=25)
    await chat.command("start")
    assert len(fake_service.helpdesk.journeys) == 2, "quiet for a day: a new journey"


def test_states_saved_with_the_older_reason_names_read_as_the_services() -> None:
    for older, newer in (
        ("parent_request", "asked"),
        ("credential_locked", "locked"),
        ("repeated_invalid_input", "repeated_misunderstanding"),
    ):
        assert DialogState.model_validate({"escalation_reason": older}).escalation_reason == newer


async def test_the_service_down_in_helpdesk_mode_keeps_the_escalation(
    chat: Chat, fake_service: FakeAccountService, database_url: str
) -> None:
    await chat.command("conseiller")
    fake_service.unavailable = True
    await chat.text("Vous êtes là ?")
    assert "Je n’ai pas pu transmettre votre message pour le moment." in chat.last_text
    fake_service.unavailable = False
    state, _credentials = await stored_chat(database_url, chat.chat_key)
    assert state.helpdesk is not None


async def test_at_a_password_step_the_helpdesk_mode_reads_messages_as_messages(
    chat: Chat, fake_service: FakeAccountService
) -> None:
    await chat.command("start")
    asked = await chat.text(KEEP[0])
    assert asked.expects_secret
    escalated = await chat.command("conseiller")
    assert not escalated.expects_secret, "the next line goes to the agent: not read as a password"
    said = await chat.text("Je ne me souviens plus du mot de passe")
    assert not said.delete_inbound
    assert open_escalation(fake_service).parent_messages == ["Je ne me souviens plus du mot de passe"]
    assert fake_service.received_passwords == [], "nothing was sent to be verified"
