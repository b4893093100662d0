"""The bot's commands: French names, English aliases and descriptions for the channels' menus."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.i18n import N_, normalise_language, translator


@dataclass(frozen=True)
class Command:
    """One command: its canonical French name, its English aliases and its menu description."""

    name: str
    english: str
    description: str  # msgid
    aliases: tuple[str, ...] = ()

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name a parent may type for this command."""
        return (self.name, self.english, *self.aliases)


COMMANDS: tuple[Command, ...] = (
    Command("start", "start", N_("Start over from the beginning")),
    Command("aide", "help", N_("What I can do for you")),
    Command("annuler", "cancel", N_("Cancel the current step")),
    Command("enfants", "children", N_("See the children on your account")),
    Command("conseiller", "agent", N_("Talk to a helpdesk agent")),
    Command("langue", "language", N_("Change the language (français / English)")),
    Command("deconnexion", "logout", N_("Log out"), aliases=("déconnexion",)),
)

_BY_SPELLING = {spelling: command for command in COMMANDS for spelling in command.spellings}


def find_command(typed: str) -> Command | None:
    """The command a typed name (without "/", any case, optional "@botname") stands for."""
    name = typed.strip().lstrip("/").split("@", 1)[0].lower()
    return _BY_SPELLING.get(name)


def command_menu(language: str) -> list[tuple[str, str]]:
    """(command name, translated description) pairs: French names in "fr", English in "en"."""
    language = normalise_language(language)
    translate = translator(language)
    return [
        (command.name if language == "fr" else command.english, translate(command.description)) for command in COMMANDS
    ]
