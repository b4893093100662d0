"""The guided conversation against the real account service (in-process, over HTTP), on each database."""

from __future__ import annotations

import asyncio

import pytest

from conversations.runtime import dialog_engine
from conversations.state import Step
from service.app import create_app

from .support import BOT_TOKEN, Chat, FakeClock, serving, stored_chat

KEEP = ("c.martin", "Soleil-Bleu-2026")
OTHER = ("c.martin7", "K7QX-M2PA-9TZC")
TO_ACTIVATE = ("s.petit", "P3LM-6VXA-2RGE")
NAMES_DIFFER = ("c.martinez", "R4TW-9HKP-3MXE")
ALREADY_MERGED = ("c.martin.ancien", "Ancien-Compte-2020")


async def reach_other_account_password(chat: Chat) -> None:
    await chat.command("start")
    await chat.text(KEEP[0])
    await chat.text(KEEP[1])
    await chat.text(OTHER[0])


async def reach_roles(chat: Chat) -> None:
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])


async def test_whole_merge_from_start_to_my_children(real_chat: Chat, count_merges) -> None:
    chat = real_chat
    welcome = await chat.command("start")
    assert "regrouper tous vos enfants" in chat.last_text
    assert (
        "Pour rattacher un enfant, connectez-vous d’abord avec le compte que vous utilisez déjà. "
        "C’est celui que vous gardez.\n"
        "«\u00a0Identifiant\u00a0»\u00a0: tapez l’identifiant de ce compte. "
        "Pas celui du courrier de l’école\u00a0: je vous le demande juste après."
    ) in chat.last_text
    assert chat.last_text.count("gardez") == 1 and "garder" not in chat.last_text, "said once"
    assert [button.label for button in chat.keyboard()] == ["Mes enfants", "Parler à un conseiller"]
    assert not welcome.expects_secret and len(welcome.replies) == 1

    asked_password = await chat.text(KEEP[0])
    assert "«\u00a0Mot de passe\u00a0»" in chat.last_text and asked_password.expects_secret

    logged_in = await chat.text(KEEP[1])
    assert logged_in.delete_inbound and len(logged_in.replies) == 1
    assert (
        "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:\n• L 15/09/2015 — représentant légal" in chat.last_text
    )
    assert "«\u00a0Recherchez le compte\u00a0»" in chat.last_text

    await chat.text(OTHER[0])
    found = await chat.text(OTHER[1])
    assert found.delete_inbound and len(found.replies) == 1, "the account found and the portal's form: one message"
    assert (
        "J’ai trouvé le compte c.martin7. Il contient 2 enfants\u00a0:\n"
        "• C 11/04/2007 — représentant légal\n• M 04/01/2010 — représentant légal" in chat.last_text
    )
    assert "le compte c.martin7 sera fermé et ses enfants rejoindront votre compte c.martin" in chat.last_text
    assert "Ce compte est actif" not in chat.last_text, "a pending account is not said to be active"
    assert [button.label for button in chat.keyboard()] == [
        "C 11/04/2007 · ☐ Je ne suis pas le représentant légal de cet élève",
        "M 04/01/2010 · ☐ Je ne suis pas le représentant légal de cet élève",
        "Qu’est-ce qu’un représentant légal\u00a0?",
        "Ajouter ces élèves à mon compte",
        "Annuler",
    ]
    definition = await chat.press("Qu’est-ce qu’un représentant légal")
    assert definition.replies == () and definition.notice_alert and len(definition.notice) <= 200
    assert "le parent ou la personne qui exerce l’autorité parentale" in definition.notice
    assert "/conseiller" in definition.notice
    await chat.text("je ne sais pas")
    assert "le parent ou la personne qui exerce l’autorité parentale" in chat.last_text
    assert "Parler à un conseiller" in [button.label for button in chat.keyboard()], "an agent, if still unsure"
    assert "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()], "the form stays"

    toggled = await chat.press("M 04/01/2010")
    assert toggled.replies[-1].edit_previous and toggled.notice == "Noté."
    assert chat.button("M 04/01/2010").label == "M 04/01/2010 · ☑ Je ne suis pas le représentant légal de cet élève"
    assert "• M 04/01/2010 — pas représentant légal" in chat.last_text, "the text follows the checkbox"
    await chat.press("M 04/01/2010")
    assert chat.button("M 04/01/2010").label == "M 04/01/2010 · ☐ Je ne suis pas le représentant légal de cet élève"
    await chat.press("M 04/01/2010")
    assert chat.button("C 11/04/2007").label == "C 11/04/2007 · ☐ Je ne suis pas le représentant légal de cet élève"
    assert await count_merges() == 0, "nothing changes before « Ajouter ces élèves à mon compte »"

    await chat.press("Ajouter ces élèves à mon compte")
    added = "Ces enfants ont été ajoutés à votre compte\u00a0:\n• C 11/04/2007 — représentant légal\n"
    assert added + "• M 04/01/2010 — pas représentant légal" in chat.last_text
    assert "dans «\u00a0Mes enfants\u00a0» et dans les portails" in chat.last_text
    assert await count_merges() == 1

    await chat.command("enfants")
    for line in (
        "• C 11/04/2007 — représentant légal",
        "• M 04/01/2010 — pas représentant légal",
        "• L 15/09/2015 — représentant légal",
    ):
        assert line in chat.last_text


async def test_free_text_leads_into_the_flow(real_chat: Chat) -> None:
    await real_chat.text("Bonjour, je veux ajouter mon fils")
    assert "Je vous aide à regrouper" in real_chat.last_text
    assert "«\u00a0Identifiant\u00a0»" in real_chat.last_text


async def test_a_pending_account_is_activated_then_used(real_chat: Chat) -> None:
    chat = real_chat
    await chat.command("enfants")
    await chat.text(TO_ACTIVATE[0])
    activation = await chat.text(TO_ACTIVATE[1])
    assert activation.delete_inbound and not activation.expects_secret
    assert "le compte s.petit n’est pas encore activé" in chat.last_text
    assert (
        "utilisez-vous déjà un autre compte du portail, déjà activé, avec les mêmes nom et prénom\u00a0?"
        in chat.last_text
    )
    rules = await chat.press("Non")
    assert rules.expects_secret and "• au moins 10\u00a0caractères" in chat.last_text
    assert "par exemple" not in chat.last_text, "no example password a parent could copy"

    short = await chat.text("court")
    assert short.delete_inbound and "Ce mot de passe ne respecte pas ces règles\u00a0:" in chat.last_text
    assert "• au moins 10\u00a0caractères\n• pas seulement des lettres" in chat.last_text
    await chat.text("Lune-" * 30)
    assert "• au plus 128\u00a0caractères" in chat.last_text
    await chat.text("s.petit-2027-Lune")
    assert "• sans votre identifiant" in chat.last_text, "every rule is checked before the second typing"
    await chat.text("Lune-Rouge-2027!")
    mismatch = await chat.text("Lune-Rouge-2028!")
    assert mismatch.delete_inbound and "Les deux mots de passe sont différents" in chat.last_text

    await chat.text("Sophie-Lune-2027")
    refused = await chat.text("Sophie-Lune-2027")
    assert "Le portail a refusé ce mot de passe" in chat.last_text
    assert "• sans votre nom ni votre prénom" in chat.last_text and refused.expects_secret

    await chat.text("Lune-Rouge-2027!")
    await chat.text("Lune-Rouge-2027!")
    assert "Votre compte est activé" in chat.last_text
    assert "• H 03/05/2014 — représentant légal" in chat.last_text

    await chat.command("deconnexion")
    await chat.log_in(TO_ACTIVATE[0], "Lune-Rouge-2027!")
    assert "Connexion réussie avec le compte s.petit." in chat.last_text


async def test_an_activation_overtaken_by_another_chat_asks_to_log_in_again(open_engine) -> None:
    """Two chats hold activation tickets for one account: the second cannot replace the chosen password."""
    async with open_engine() as engine:
        first, second = Chat(engine, chat_key="telegram:1"), Chat(engine, chat_key="telegram:2")
        for chat in (first, second):
            await chat.log_in(*TO_ACTIVATE)
            assert "pas encore activé" in chat.last_text
            await chat.press("Non")  # no other activated account: activate this one
        for chat, password in ((first, "Lune-Rouge-2027!"), (second, "Pirate-Pris-666!")):
            await chat.text(password)
            await chat.text(password)
        assert "Votre compte est activé" in first.last_text
        assert "Ce compte a été activé entre-temps" in second.last_text
        assert "«\u00a0Identifiant\u00a0»" in second.last_text
        await second.log_in(TO_ACTIVATE[0], "Lune-Rouge-2027!")
        assert "Connexion réussie avec le compte s.petit." in second.last_text


async def test_a_restart_between_two_steps_resumes_at_the_same_step(open_engine, count_merges) -> None:
    async with open_engine() as first_process:
        await reach_other_account_password(Chat(first_process, chat_key="telegram:7"))
    async with open_engine() as second_process:
        chat = Chat(second_process, chat_key="telegram:7")
        await chat.text(OTHER[1])
        assert "J’ai trouvé le compte c.martin7" in chat.last_text
    async with open_engine() as third_process:
        chat = Chat(third_process, chat_key="telegram:7", outcomes=chat.outcomes)
        await chat.press("Ajouter ces élèves")
        assert "Ces enfants ont été ajoutés" in chat.last_text
    assert await count_merges() == 1


async def test_double_continue_and_double_final_confirmation_apply_one_merge(real_chat: Chat, count_merges) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])
    roles_text = chat.last_text

    apply_button = chat.button("Ajouter ces élèves")
    first, again = await asyncio.gather(chat.press_data(apply_button.data), chat.press_data(apply_button.data))
    assert sum(1 for outcome in (first, again) if outcome.replies) == 1
    late = await chat.press_data(apply_button.data)
    assert late.notice == "C’est déjà fait\u00a0: les enfants ont été ajoutés à votre compte."
    assert await count_merges() == 1
    assert "ajoutés" not in roles_text and "Je ne suis pas le représentant légal de cet élève" not in roles_text


async def test_a_wrong_password_keeps_the_identifier_and_throttling_keeps_the_step(
    real_chat: Chat, clock: FakeClock
) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    wrong_password = await chat.text("Pas-Le-Bon-7")
    assert wrong_password.delete_inbound and wrong_password.expects_secret
    assert "Ce mot de passe ne fonctionne pas avec l’identifiant c.martin7" in chat.last_text
    assert "Tapez le mot de passe provisoire exactement" in chat.last_text, "help about the password"
    assert "«\u00a0Mot de passe\u00a0»\u00a0: tapez le mot de passe du compte c.martin7" in chat.last_text
    await chat.text("Pas-Le-Bon-8")
    await chat.text("Pas-Le-Bon-9")
    assert "Un conseiller peut vous aider" in chat.last_text
    for wrong in ("Pas-Le-Bon-10", "Pas-Le-Bon-11"):  # five failures on the account, then the sixth try waits
        await chat.text(wrong)
    throttled = await chat.text(OTHER[1])
    assert "Trop d’essais. Pour votre sécurité, attendez 2 secondes avant de réessayer." in chat.last_text
    assert throttled.expects_secret, "the parent stays on the password step"
    early = await chat.text(OTHER[1])
    assert early.delete_inbound and "Attendez encore 2 secondes avant de retaper le mot de passe" in chat.last_text
    assert "J’ai trouvé" not in chat.last_text, "refused here, before the service counts it"
    await chat.command("annuler")
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(OTHER[0])
    assert "Trop d’essais pour ce compte\u00a0: attendez 2 secondes avant de taper son mot de passe." in chat.last_text
    await chat.command("annuler")
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(NAMES_DIFFER[0])
    assert "Trop d’essais pour ce compte" not in chat.last_text, "another account is not kept waiting here"
    await chat.command("annuler")
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(OTHER[0])
    clock.advance(seconds=2)
    await chat.text(OTHER[1])
    assert "J’ai trouvé le compte c.martin7" in chat.last_text, "waiting the announced time is enough"


async def test_commands_and_help_words_at_a_password_step_are_never_verified(real_chat: Chat, agent_api) -> None:
    chat = real_chat
    await chat.command("start")
    await chat.press("Mes enfants")
    await chat.text("annuler")
    assert "Connexion annulée." in chat.last_text and "compte annuler" not in chat.last_text
    await chat.text(KEEP[0])
    for typed in ("aide", "c'est quoi le mot de passe provisoire ?", "merci"):
        await chat.text(typed)
        assert "«\u00a0Mot de passe\u00a0»\u00a0: tapez le mot de passe du compte c.martin" in chat.last_text
        assert "Ce mot de passe ne fonctionne pas" not in chat.last_text
    stop = await chat.text("stop")
    assert stop.delete_inbound and "Connexion annulée." in chat.last_text
    await chat.log_in(*KEEP)
    assert "Connexion réussie avec le compte c.martin." in chat.last_text, "nothing was counted as a failure"


async def test_names_that_differ_are_explained_and_an_agent_is_offered(real_chat: Chat, agent_api) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.command("annuler")
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(NAMES_DIFFER[0])
    await chat.text(NAMES_DIFFER[1])
    assert "n’ont pas exactement les mêmes nom et prénom" in chat.last_text
    assert (
        "Nom\u00a0: «\u00a0MARTIN\u00a0» sur votre compte c.martin, «\u00a0MARTINEZ\u00a0» sur le compte c.martinez."
        in chat.last_text
    )
    assert "de corriger le nom sur ce compte\u00a0: Collège Victor Hugo" in chat.last_text
    await chat.press("Parler à un conseiller")
    assert "J’ai transmis votre demande à l’assistance (référence" in chat.last_text
    [escalation] = await agent_api()
    assert escalation["reason"] == "names_differ"
    assert escalation["collected"] == {"identifier": "c.martin", "source_identifier": "c.martinez"}


async def test_the_same_account_is_refused(real_chat: Chat) -> None:
    chat = real_chat
    await chat.log_in(*KEEP)
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(KEEP[0])
    await chat.text(KEEP[1])
    assert "C’est le compte que vous utilisez en ce moment" in chat.last_text
    assert "«\u00a0Identifiant\u00a0»" in chat.last_text


async def test_an_already_merged_account_is_explained(real_chat: Chat) -> None:
    chat = real_chat
    await chat.log_in(*ALREADY_MERGED)
    assert "Ce compte a été regroupé avec un autre compte et il est fermé" in chat.last_text
    await chat.text(KEEP[0])
    await chat.text(KEEP[1])
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(ALREADY_MERGED[0])
    await chat.text(ALREADY_MERGED[1])
    assert "Le compte c.martin.ancien a déjà été regroupé avec votre compte c.martin" in chat.last_text


async def test_an_expired_ticket_asks_the_password_again(real_chat: Chat, clock: FakeClock, count_merges) -> None:
    chat = real_chat
    await reach_roles(chat)
    clock.advance(minutes=11)
    expired = await chat.press("Ajouter ces élèves")
    assert "La vérification du compte c.martin7 a expiré" in chat.last_text and expired.expects_secret
    await chat.text(OTHER[1])
    await chat.press("Ajouter ces élèves")
    assert "Ces enfants ont été ajoutés" in chat.last_text
    assert await count_merges() == 1


async def test_an_expired_session_asks_to_log_in_again(real_chat: Chat, clock: FakeClock) -> None:
    chat = real_chat
    await chat.log_in(*KEEP)
    clock.advance(minutes=31)
    await chat.press("Ajouter des élèves depuis un autre compte")
    await chat.text(OTHER[0])
    await chat.text(OTHER[1])
    assert "Votre connexion a expiré. Connectez-vous de nouveau." in chat.last_text
    await chat.text(KEEP[0])
    await chat.text(KEEP[1])
    assert "«\u00a0Recherchez le compte\u00a0»" in chat.last_text, "the wish to add a child is kept"


async def test_an_unreachable_service_keeps_the_step_and_a_retry_works(
    open_engine, unused_tcp_port: int, database_url: str
) -> None:
    async with open_engine() as engine:
        await reach_other_account_password(Chat(engine, chat_key="telegram:9"))
    async with open_engine(f"http://127.0.0.1:{unused_tcp_port}") as cut_off:
        chat = Chat(cut_off, chat_key="telegram:9")
        apology = await chat.text(OTHER[1])
        assert "le service ne répond pas pour le moment" in chat.last_text
        assert apology.delete_inbound and apology.expects_secret
        assert "Désolé" in chat.last_text
    state, _credentials = await stored_chat(database_url, "telegram:9")
    assert state.step == Step.SOURCE_PASSWORD and state.source_identifier == OTHER[0]
    async with open_engine() as engine:
        chat = Chat(engine, chat_key="telegram:9")
        await chat.text(OTHER[1])
        assert "J’ai trouvé le compte c.martin7" in chat.last_text


async def test_a_lost_merge_answer_is_retried_without_applying_twice(
    open_engine, response_losing_proxy, count_merges
) -> None:
    async with open_engine(response_losing_proxy.url) as engine:
        chat = Chat(engine)
        await reach_roles(chat)
        response_losing_proxy.lose_next("POST", "/v1/merges")
        await chat.press("Ajouter ces élèves")
        assert "le service ne répond pas pour le moment" in chat.last_text
        assert await count_merges() == 1, "the service applied it; only the answer was lost"
        await chat.press("Ajouter ces élèves")
        assert "Ces enfants ont été ajoutés à votre compte" in chat.last_text
    assert await count_merges() == 1


async def test_invalid_input_is_asked_again_twice_with_more_help_then_an_agent_is_offered(real_chat: Chat) -> None:
    chat = real_chat
    await chat.command("enfants")
    await chat.text("c martin")
    assert "Un identifiant ne contient pas d’espace." in chat.last_text
    assert "Il figure sur le courrier de l’école" in chat.last_text
    assert chat.last.replies[-1].buttons == ()
    await chat.text("😀😀")
    assert "par exemple c.martin" in chat.last_text
    assert not chat.last.replies[-1].buttons
    await chat.unsupported()
    assert "Je ne peux lire que des messages écrits." in chat.last_text
    assert "Un conseiller peut vous aider" in chat.last_text
    assert [button.label for row in chat.last.replies[-1].buttons for button in row] == ["Parler à un conseiller"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("x" * 10_000, "C’est trop long pour un identifiant."),
        ("", "Votre message est vide."),
        ("c.mar\x00tin\x1b[31m", "Un identifiant contient seulement des lettres, des chiffres"),
        ("c. martin", "Un identifiant ne contient pas d’espace.\n"),
        ("👨‍👩‍👧", "Un identifiant contient seulement des lettres, des chiffres"),
    ],
)
async def test_odd_texts_are_answered_politely(real_chat: Chat, typed: str, expected: str) -> None:
    await real_chat.command("enfants")
    await real_chat.text(typed)
    assert expected in real_chat.last_text
    assert all(len(reply.text) <= 4096 for reply in real_chat.last.replies)


async def test_inactivity_expires_the_pending_step(real_chat: Chat, clock: FakeClock) -> None:
    chat = real_chat
    await chat.command("enfants")
    await chat.text(KEEP[0])
    clock.advance(seconds=901)
    late = await chat.text(KEEP[1])
    assert late.delete_inbound, "the late message was typed as a password: delete it anyway"
    assert "Vous n’avez pas répondu depuis 15 minutes\u00a0: j’ai donc arrêté l’étape en cours." in chat.last_text
    assert "Pour rattacher un enfant, connectez-vous d’abord" in chat.last_text
    await chat.log_in(*KEEP)
    assert "Connexion réussie avec le compte c.martin." in chat.last_text


async def test_a_command_after_an_expired_step_does_not_speak_of_the_expired_flow(
    real_chat: Chat, clock: FakeClock
) -> None:
    chat = real_chat
    await chat.command("enfants")
    await chat.text(KEEP[0])
    clock.advance(seconds=901)
    await chat.command("enfants")
    assert "Vous n’avez pas répondu depuis 15 minutes" in chat.last_text
    assert "Connexion annulée." not in chat.last_text, "the expiry already said what became of it"


async def test_an_escalation_is_recorded_without_any_password(real_chat: Chat, agent_api) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])
    await chat.press("M 04/01/2010")
    await chat.command("conseiller")
    assert "référence" in chat.last_text and "/annuler" in chat.last_text, "helpdesk mode: how to come back"
    [escalation] = await agent_api()
    assert escalation["reason"] == "asked"  # the bot's older name, parent_request, stored as what it means
    assert escalation["step"] == "choose_roles"
    assert escalation["language"] == "fr"
    assert escalation["channel"] == "telegram" and escalation["chat_ref"] == "42"
    assert escalation["collected"] == {"identifier": "c.martin", "source_identifier": "c.martin7"}
    transcript = "\n".join(line["text"] for line in escalation["transcript"])
    assert "[mot de passe masqué]" in transcript and "c.martin7" in transcript
    assert KEEP[1] not in transcript and OTHER[1] not in transcript
    pressed = "[M 04/01/2010 · ☐ Je ne suis pas le représentant légal de cet élève]"
    assert pressed in transcript, "a button pressed is written as the label the parent saw"


async def test_language_follows_the_client_then_the_langue_command(open_engine) -> None:
    async with open_engine() as engine:
        chat = Chat(engine, language="en-GB")
        await chat.command("start")
        assert "I help you gather all your children" in chat.last_text
        assert "“Identifiant” (Identifier)" in chat.last_text
        await chat.command("langue")
        assert (
            "Je vous parle maintenant en français." in chat.last_text and "«\u00a0Identifiant\u00a0»" in chat.last_text
        )
        await chat.command("language", "en")
        assert "From now on, I speak English." in chat.last_text
        await chat.command("start")
        assert "To link a child, first log in" in chat.last_text, "the choice is kept in the state"


async def test_cancel_says_what_it_cancelled_and_keeps_the_login(real_chat: Chat) -> None:
    chat = real_chat
    await reach_roles(chat)
    await chat.command("annuler")
    assert "L’ajout des enfants du compte c.martin7 est annulé. Rien n’a changé sur vos comptes." in chat.last_text
    await chat.command("annuler")
    assert "Il n’y a rien à annuler." in chat.last_text
    await chat.command("enfants")
    assert "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:\n• L 15/09/2015" in chat.last_text
    await chat.command("deconnexion")
    assert "Déconnexion faite." in chat.last_text
    await chat.command("enfants")
    assert "Pour voir vos enfants, connectez-vous d’abord." in chat.last_text


async def test_commands_in_the_middle_of_a_flow_say_what_became_of_it(real_chat: Chat) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])
    await chat.command("enfants")
    assert "L’ajout des enfants du compte c.martin7 est annulé. Rien n’a changé sur vos comptes." in chat.last_text
    assert "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:" in chat.last_text
    await chat.command("start")
    assert "Vous êtes connecté avec le compte c.martin." in chat.last_text
    assert "Connexion réussie" not in chat.last_text, "no new login is pretended"
    await chat.text("voir la liste de mes fils")
    assert "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:" in chat.last_text
    assert "«\u00a0Recherchez le compte\u00a0»" not in chat.last_text


@pytest.mark.parametrize(
    "refusal", ["je ne suis pas d'accord", "non merci", "pas du tout", "je ne veux pas", "ce n'est pas le bon"]
)
async def test_a_refusal_is_never_read_as_agreement(real_chat: Chat, count_merges, refusal: str) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])
    await chat.text(refusal)
    assert "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()], "the form stays"
    assert "Ces enfants ont été ajoutés" not in chat.last_text
    assert await count_merges() == 0


@pytest.mark.parametrize("agreement", ["oui", "ok", "d'accord", "c'est bien mon compte"])
async def test_at_the_portal_form_non_never_cancels_and_only_the_button_adds(
    real_chat: Chat, count_merges, agreement: str
) -> None:
    chat = real_chat
    await reach_other_account_password(chat)
    await chat.text(OTHER[1])
    await chat.press("M 04/01/2010")  # Mathis: not the legal guardian
    await chat.text("non")  # at the portal's form: never a cancellation
    assert "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()]
    assert "Pour changer le rôle d’un enfant, appuyez sur sa ligne." in chat.last_text
    await chat.text(agreement)  # a typed yes never applies: only the portal's button does
    assert "Pour ajouter ces élèves, appuyez sur «\u00a0Ajouter ces élèves à mon compte\u00a0»." in chat.last_text
    assert "Ajouter ces élèves à mon compte" in [button.label for button in chat.keyboard()], "the form stays"
    assert await count_merges() == 0
    await chat.press("Ajouter ces élèves")
    assert "• C 11/04/2007 — représentant légal\n• M 04/01/2010 — pas représentant légal" in chat.last_text
    assert await count_merges() == 1


async def test_a_repeated_update_is_not_applied_twice(real_chat: Chat) -> None:
    chat = real_chat
    await chat.command("enfants")
    first = await chat.text(KEEP[0])
    again = await chat.engine.handle(chat.sent[-1])
    assert first.handled and not again.handled
    assert again.replies == first.replies and again.expects_secret
    await chat.text(KEEP[1])
    assert "Connexion réussie avec le compte c.martin." in chat.last_text


async def test_a_refused_bot_token_is_logged_and_the_parent_gets_an_apology(
    dialog_settings, service_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with dialog_engine(
        dialog_settings, service_url=service_url, service_token="not-the-token", clock=clock
    ) as engine:
        chat = Chat(engine)
        await chat.log_in(*KEEP)
    assert "le service ne répond pas pour le moment" in chat.last_text
    assert "the service refused the bot's token (unauthorized)" in caplog.text
    assert KEEP[1] not in caplog.text


async def test_the_same_account_merged_from_another_chat_meanwhile(open_engine, count_merges) -> None:
    async with open_engine() as engine:
        first, second = Chat(engine, chat_key="telegram:1"), Chat(engine, chat_key="telegram:2")
        await reach_roles(first)
        await reach_roles(second)
        await second.press("Ajouter ces élèves")
        assert "Ces enfants ont été ajoutés" in second.last_text
        await first.press("Ajouter ces élèves")
    assert "Ces enfants ont été ajoutés" not in first.last_text
    assert "«\u00a0Mes enfants\u00a0» sur le compte c.martin\u00a0:" in first.last_text
    assert "• M 04/01/2010 — représentant légal" in first.last_text
    assert await count_merges() == 1


async def test_a_locked_account_sends_the_parent_to_the_school(
    service_settings, dialog_settings, service_url: str, clock: FakeClock, hasher
) -> None:
    strict = service_settings.model_copy(update={"throttle_free_failures": 1, "throttle_lock_failures": 3})
    async with (
        serving(create_app(strict, clock=clock, hasher=hasher)) as strict_url,
        dialog_engine(dialog_settings, service_url=strict_url, service_token=BOT_TOKEN, clock=clock) as engine,
    ):
        chat = Chat(engine)
        for _attempt in range(3):
            await chat.log_in(OTHER[0], "Pas-Le-Bon-7")
            clock.advance(hours=1)
        await chat.log_in(*OTHER)
    assert "Ce compte est bloqué après trop de mots de passe erronés." in chat.last_text
    assert "Demandez un nouveau mot de passe provisoire à l’école" in chat.last_text
    assert "Parler à un conseiller" in [button.label for button in chat.keyboard()]


async def test_a_letter_pasted_at_the_identifier_step_keeps_only_the_identifier(
    real_chat: Chat, agent_api, database_url: str
) -> None:
    chat = real_chat
    await chat.command("start")
    pasted = await chat.text(f"Identifiant : {KEEP[0]} Mot de passe : {KEEP[1]}")
    assert pasted.delete_inbound and pasted.expects_secret
    assert "Votre message contenait ce qui ressemble à un mot de passe" in chat.last_text
    assert f"Je prends {KEEP[0]} comme identifiant." in chat.last_text
    assert f"«\u00a0Mot de passe\u00a0»\u00a0: tapez le mot de passe du compte {KEEP[0]}." in chat.last_text
    await chat.text(KEEP[1])
    assert "Connexion réussie avec le compte c.martin." in chat.last_text

    only_password = await chat.text(OTHER[1])  # the temporary password typed where its identifier is asked
    assert only_password.delete_inbound and not only_password.expects_secret
    assert "Tapez d’abord l’identifiant, seul" in chat.last_text
    await chat.command("conseiller", f"mon mdp est {OTHER[1]}")
    assert chat.last.delete_inbound

    state, _credentials = await stored_chat(database_url, chat.chat_key)
    [escalation] = await agent_api()
    for stored in (state.model_dump_json(), str(escalation)):
        assert KEEP[1] not in stored and OTHER[1] not in stored
        assert OTHER[1].replace("-", "") not in stored.replace("-", "")
    transcript = "\n".join(line["text"] for line in escalation["transcript"] if line["sender"] == "parent")
    assert f"Identifiant : {KEEP[0]} Mot de passe : [mot de passe masqué]" in transcript
