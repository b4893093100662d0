"""The step table: every step of the conversation is one entry, and the step graph is drawn from it.

An entry says everything about its step: the question asked (its prompt), what typed text means
there (what conversations.understanding expects, and which meanings the step's own handler reads),
its buttons, its help, whether it reads a secret, and the steps it may lead to. Handlers return
their next move; the engine refuses a move the entry does not declare, so the graph below is the
dialog's real graph. Commands and the meanings every step understands (help, agent, cancel…) are
routed by the engine and lead only to `ANYWHERE_TARGETS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from conversations import handlers as h
from conversations import wording as w
from conversations.i18n import N_
from conversations.state import Flow, Step
from conversations.turn import Turn
from conversations.understanding import Expectation, Meaning

HUMAN = "human"  # graph node: an agent was offered (escalation reason recorded)
Target = Step | str


@dataclass(frozen=True)
class StepEntry:
    """One step: its question, how it reads answers, its help, and where it may lead."""

    prompt: Callable[[Turn], None]
    expects: Expectation
    reads: frozenset[Meaning]  # meanings handled by `on_text` (the others: the engine's, or not understood)
    on_text: h.TextHandler
    help: tuple[str, str]  # more help on the first retry, on the second and after (msgids)
    leads_to: frozenset[Target]
    buttons: Mapping[str, h.ActionHandler] = field(default_factory=dict)  # action (before ":") → handler
    flow: Flow | None = None  # the task the step belongs to; None: a menu, where the dialog rests (no expiry)
    reads_secret: bool = False  # typed text is a password: sent to the service, deleted, never stored

    @property
    def resting(self) -> bool:
        """A menu: the dialog may rest here without expiring; an end of the graph."""
        return self.flow is None


STEPS: dict[Step, StepEntry] = {
    Step.WELCOME: StepEntry(
        prompt=w.ask_menu,
        expects=Expectation.IDENTIFIER,  # the welcome asks the identifier of the account to keep
        reads=frozenset({Meaning.DATA, Meaning.UNKNOWN, Meaning.LINK_CHILD, Meaning.MY_CHILDREN}),
        on_text=h.read_welcome_text,
        buttons={"link": h.start_linking, "kids": h.show_children},
        help=(
            N_(
                "To link a child, type the identifier of the account you want to keep, for example c.martin. "
                "Or tell me in a few words what you want."
            ),
            N_(
                "The identifier is on the letter from the school, or it is the one you use on the portal. "
                "To talk to a person, press “Talk to an agent”."
            ),
        ),
        leads_to=frozenset({Step.LOGIN_IDENTIFIER, Step.LOGIN_PASSWORD, Step.SOURCE_IDENTIFIER, Step.MY_CHILDREN}),
    ),
    Step.LOGIN_IDENTIFIER: StepEntry(
        flow=Flow.LOGIN,
        prompt=w.ask_login_identifier,
        expects=Expectation.IDENTIFIER,
        reads=frozenset({Meaning.DATA, Meaning.UNKNOWN}),
        on_text=h.read_login_identifier,
        help=(
            N_(
                "An identifier has no spaces. It is on the letter from the school, or it is the one you use on the "
                "portal."
            ),
            N_(
                "Type only the identifier, for example c.martin. If you cannot find it, ask the school or talk to an "
                "agent."
            ),
        ),
        leads_to=frozenset({Step.LOGIN_PASSWORD}),
    ),
    Step.LOGIN_PASSWORD: StepEntry(
        flow=Flow.LOGIN,
        prompt=w.ask_login_password,
        expects=Expectation.SECRET,
        reads=frozenset({Meaning.DATA}),
        on_text=h.read_login_password,
        help=(
            N_(
                "Type the password exactly, with its capital letters and signs. "
                "If the account is not activated yet, type the temporary password from the school."
            ),
            N_("If you forgot your password, ask the school for a new temporary password, or talk to an agent."),
        ),
        leads_to=frozenset(
            {
                Step.LOGIN_IDENTIFIER,
                Step.OTHER_ACTIVE_ACCOUNT,
                Step.SOURCE_IDENTIFIER,
                Step.MY_CHILDREN,
                Step.WELCOME,
                HUMAN,
            }
        ),
        reads_secret=True,
    ),
    Step.OTHER_ACTIVE_ACCOUNT: StepEntry(
        flow=Flow.ACTIVATION,
        prompt=w.ask_other_active_account,
        expects=Expectation.YES_NO,
        reads=frozenset({Meaning.YES, Meaning.NO, Meaning.DONT_KNOW}),
        on_text=h.read_other_active_account,
        buttons={"yes": h.use_the_other_account, "no": h.activate_this_account},
        help=(
            N_(
                "With two accounts, the portal asks you to keep one: the one you already use. "
                "Answer “Yes” if you already log in to the portal with another account, “No” otherwise."
            ),
            N_("If you are not sure, talk to an agent."),
        ),
        leads_to=frozenset({Step.LOGIN_IDENTIFIER, Step.NEW_PASSWORD}),
    ),
    Step.NEW_PASSWORD: StepEntry(
        flow=Flow.ACTIVATION,
        prompt=w.ask_new_password,
        expects=Expectation.NEW_PASSWORD,
        reads=frozenset({Meaning.DATA}),
        on_text=h.read_new_password,
        help=(
            N_("Make it long and easy for you to remember, with letters and also digits or signs."),
            N_("If you do not want to choose a password now, type /cancel: the account stays as it is."),
        ),
        leads_to=frozenset({Step.NEW_PASSWORD_AGAIN}),
        reads_secret=True,
    ),
    Step.NEW_PASSWORD_AGAIN: StepEntry(
        flow=Flow.ACTIVATION,
        prompt=w.ask_new_password_again,
        expects=Expectation.NEW_PASSWORD,
        reads=frozenset({Meaning.DATA}),
        on_text=h.read_new_password_again,
        help=(
            N_("Type exactly the same password as just before."),
            N_("If you are not sure any more, type /cancel and start again."),
        ),
        leads_to=frozenset({Step.NEW_PASSWORD, Step.LOGIN_IDENTIFIER, Step.SOURCE_IDENTIFIER, Step.MY_CHILDREN}),
        reads_secret=True,
    ),
    Step.MY_CHILDREN: StepEntry(
        prompt=w.ask_children_menu,
        expects=Expectation.MENU,
        reads=frozenset({Meaning.LINK_CHILD, Meaning.MY_CHILDREN}),
        on_text=h.read_menu_text,
        buttons={"add": h.start_linking, "kids": h.show_children},
        help=(
            N_("Press “Add students from another account” to add children who are on another account."),
            N_("Type /help to see everything I can do."),
        ),
        leads_to=frozenset({Step.SOURCE_IDENTIFIER, Step.MY_CHILDREN, Step.LOGIN_IDENTIFIER}),
    ),
    Step.SOURCE_IDENTIFIER: StepEntry(
        flow=Flow.MERGE,
        prompt=w.ask_source_identifier,
        expects=Expectation.IDENTIFIER,
        reads=frozenset({Meaning.DATA, Meaning.UNKNOWN}),
        on_text=h.read_source_identifier,
        help=(
            N_("The identifier of the other account is on the letter from the school. It has no spaces."),
            N_("If you do not have it, ask the school where the missing child is enrolled, or talk to an agent."),
        ),
        leads_to=frozenset({Step.SOURCE_PASSWORD}),
    ),
    Step.SOURCE_PASSWORD: StepEntry(
        flow=Flow.MERGE,
        prompt=w.ask_source_password,
        expects=Expectation.SECRET,
        reads=frozenset({Meaning.DATA}),
        on_text=h.read_source_password,
        help=(
            N_("Type the temporary password exactly as it is written on the letter, with its dashes."),
            N_("If the temporary password has expired, ask the school for a new one, or talk to an agent."),
        ),
        leads_to=frozenset({Step.SOURCE_IDENTIFIER, Step.CHOOSE_ROLES, Step.MY_CHILDREN, HUMAN}),
        reads_secret=True,
    ),
    Step.CHOOSE_ROLES: StepEntry(
        flow=Flow.MERGE,
        prompt=w.ask_roles,
        expects=Expectation.YES_NO,
        reads=frozenset({Meaning.YES, Meaning.NO, Meaning.DONT_KNOW, Meaning.ASK_LEGAL_GUARDIAN}),
        on_text=h.read_roles_text,
        buttons={
            w.TOGGLE: h.toggle_guardian,
            w.LEGAL_GUARDIAN_HELP: h.explain_legal_guardian,
            "apply": h.apply_merge,
            "cancel": h.cancel_step,
            **dict.fromkeys(w.OLDER_FORM_ACTIONS, h.show_form),
        },
        help=(
            N_(
                "Press a child's line if you are not their legal guardian, then press “Add these students to my "
                "account”."
            ),
            N_("To stop without changing anything, press “Cancel”."),
        ),
        leads_to=frozenset({Step.SOURCE_PASSWORD, Step.MY_CHILDREN, HUMAN}),
    ),
}

# Where commands and the meanings every step understands may lead (/start, /annuler, /enfants,
# /deconnexion, « Rattacher un enfant » typed at a menu…): the menus, or the login they need.
ANYWHERE_TARGETS: frozenset[Target] = frozenset({Step.WELCOME, Step.MY_CHILDREN, Step.LOGIN_IDENTIFIER, HUMAN})
# Where the dialog resumes when the helpdesk lets go of the chat (withdrawn, closed, handed back at a resume point).
HELPDESK_TARGETS: frozenset[Target] = frozenset(
    {Step.WELCOME, Step.MY_CHILDREN, Step.LOGIN_IDENTIFIER, Step.SOURCE_IDENTIFIER}
)
# Where a hand-off link (/start <payload>) starts: the login (identifier pre-filled: its password) or the merge.
HANDOFF_TARGETS: frozenset[Target] = frozenset(
    {Step.MY_CHILDREN, Step.LOGIN_IDENTIFIER, Step.LOGIN_PASSWORD, Step.SOURCE_IDENTIFIER}
)

SECRET_STEPS = frozenset(step for step, entry in STEPS.items() if entry.reads_secret)
IDENTIFIER_STEPS = frozenset(step for step, entry in STEPS.items() if entry.expects == Expectation.IDENTIFIER)
RESTING_STEPS = frozenset(step for step, entry in STEPS.items() if entry.resting)


def step_graph() -> dict[Step, frozenset[Target]]:
    """Each step and the steps (or the human) it may lead to, from the table."""
    return {step: entry.leads_to for step, entry in STEPS.items()}


def mermaid_graph() -> str:
    """The step graph as a Mermaid flowchart (docs/conversations.md shows exactly this)."""
    lines = ["flowchart TD"]
    for step, entry in STEPS.items():
        shape = f'{step.value}(["{step.value}"])' if entry.resting else f'{step.value}["{step.value}"]'
        if entry.reads_secret:
            shape = f'{step.value}[/"{step.value} 🔒"/]'
        lines.append(f"    {shape}")
    lines.append(f'    {HUMAN}(("{HUMAN}"))')
    for step, entry in STEPS.items():
        for target in sorted(str(target) for target in entry.leads_to):
            lines.append(f"    {step.value} --> {target}")
    lines.append('    anywhere{{"any step: /start /annuler /enfants /conseiller /deconnexion"}}')
    for target in sorted(str(target) for target in ANYWHERE_TARGETS):
        lines.append(f"    anywhere -.-> {target}")
    lines.append(f'    {HUMAN} -.->|"withdrawn, closed, handed back"| helpdesk{{{{"helpdesk lets go"}}}}')
    for target in sorted(str(target) for target in HELPDESK_TARGETS):
        lines.append(f"    helpdesk -.-> {target}")
    lines.append('    handoff{{"/start with a hand-off link"}}')
    for target in sorted(str(target) for target in HANDOFF_TARGETS):
        lines.append(f"    handoff -.-> {target}")
    return "\n".join(lines)
