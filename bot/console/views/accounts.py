"""An account's history (children, merges, audit) and, for supervisors, undoing a merge with a written reason."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.console.i18n import N_, _, ngettext, translated
from bot.console.page_models import MERGE_ID_PATTERN, AccountHistory, AccountMerge, UndoResult
from bot.console.pages_support import (
    ServiceError,
    agent_of,
    call_service,
    day,
    not_found,
    parse_answer,
    read_form,
    render_page,
    single,
    supervisor_of,
    when,
)

IDENTIFIER_LIMIT = 64
REASON_MIN, REASON_MAX = 10, 500
STATUSES = {
    "active": N_("Active"),
    "pending": N_("Waiting for activation"),
    "merged": N_("Merged into another account"),
    "closed": N_("Closed"),
    "locked": N_("Locked"),
}
ROLES = {"legal_guardian": N_("Legal guardian"), "other_guardian": N_("Other guardian")}
MERGE_ROLES = {"target": N_("Account kept"), "source": N_("Account closed by the merge")}
UNDO_ERRORS = {
    "merge_undo_window_passed": N_(
        "This merge is more than 30 days old: it can no longer be undone. "
        "If the parent needs another account, the school must create one."
    ),
    "merge_already_undone": N_("This merge has already been undone: nothing was changed."),
    "merge_undo_conflict": N_(
        "Changes made since the merge prevent undoing it safely: "
        "nothing was changed. See the details below, then the school if needed."
    ),
    "merge_not_found": N_("This merge does not exist."),
    "supervisor_only": N_("Only a supervisor can undo a merge."),
}
REFUSALS = {
    "merge_undo_window_passed": N_("the merge is more than 30 days old"),
    "merge_already_undone": N_("the merge has already been undone"),
    "merge_undo_conflict": N_("changes made since the merge prevent it"),
}
CONFLICTS = {
    "merge_recorded_before_undo": N_("This merge predates undoing: nothing allows undoing it."),
    "target_not_active": N_("The account kept is no longer active."),
    "source_changed": N_("The former account has changed since the merge."),
    "source_links_changed": N_("The former account's children have changed since the merge."),
    "link_removed": N_("A child moved by the merge has been unlinked since."),
    "link_role_changed": N_("The link of a child moved by the merge has changed since."),
}


ACTIONS = {
    "account.created": N_("Account created"),
    "account.activated": N_("Account activated"),
    "account.viewed": N_("History viewed"),
    "account.merged": N_("Account merged into another"),
    "account.merge_received": N_("Children received by a merge"),
    "account.merge_undone": N_("Merge undone"),
    "session.opened": N_("Parent signed in"),
    "temporary_password.issued": N_("Temporary password issued by the school"),
    "guardian_link.created": N_("Child linked"),
    "guardian_link.removed": N_("Child unlinked"),
    "guardian_link.role_changed": N_("Link with a child changed"),
}
ACTORS = {"bot": N_("the bot"), "school": N_("the school"), "system": N_("the service")}
DETAILS = {
    "merge_id": N_("merge"),
    "into": N_("into the account"),
    "source": N_("former account"),
    "target": N_("account kept"),
    "added": N_("children added"),
    "already_linked": N_("children already on the account"),
    "roles_changed": N_("links changed"),
    "student_ine": N_("student (INE)"),
    "legal_guardian": N_("legal guardian"),
    "previous_legal_guardian": N_("legal guardian before"),
    "reason": N_("reason"),
    "links_returned": N_("links given back"),
    "uais": N_("schools (UAI)"),
}


def detail_lines(details: dict[str, object] | None) -> list[str]:
    """An audit event's details as « label : value » in the agent's language (an unknown key as it is)."""
    lines = []
    for key, value in (details or {}).items():
        label = _(DETAILS[key]) if key in DETAILS else key
        if isinstance(value, bool):
            shown = _("yes") if value else _("no")
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value)
        else:
            shown = str(value)
        lines.append(_("%(key)s: %(value)s") % {"key": label, "value": shown})
    return lines


def actor_label(actor: str | None) -> str:
    """Who did it, as the service shows it: `agent:you` (the reader), `agent` (another agent), `bot`, a school…"""
    if not actor:
        return "—"
    kind, _separator, who = actor.partition(":")
    if kind == "agent":
        return _("you") if who == "you" else _("an agent")
    return _(ACTORS[kind]) if kind in ACTORS else kind


def _identifier(raw: str) -> str | None:
    """A typed identifier, stripped, or None when empty, too long or unprintable."""
    value = raw.strip()
    if not value or len(value) > IDENTIFIER_LIMIT or not value.isprintable():
        return None
    return value


def account_url(identifier: str) -> str:
    """The console path of an account's page."""
    return "/accounts/" + quote(identifier, safe="")


def _common(**context: Any) -> dict[str, Any]:
    """What every account template receives."""
    return {
        "when": when,
        "day": day,
        "statuses": translated(STATUSES),
        "roles": translated(ROLES),
        "merge_roles": translated(MERGE_ROLES),
        "account_url": account_url,
        "refusals": translated(REFUSALS),
        "actions": translated(ACTIONS),
        "detail_lines": detail_lines,
        "not_found": None,
        "refusal": None,
        "details": [],
        **context,
    }


async def search_page(request: web.Request) -> web.Response:
    """GET /accounts?identifier=: the search form; a valid identifier goes to its page."""
    agent_of(request)
    typed = request.query.get("identifier")
    if typed is None:
        return render_page(request, "accounts.html", _common(typed="", error=None))
    identifier = _identifier(typed)
    if identifier is None:
        error = ngettext(
            "Type the account's identifier (at most {count} character).",
            "Type the account's identifier (at most {count} characters).",
            IDENTIFIER_LIMIT,
        ).format(count=IDENTIFIER_LIMIT)
        return render_page(request, "accounts.html", _common(typed=typed[:100], error=error), status=400)
    raise web.HTTPSeeOther(account_url(identifier))


async def _history(request: web.Request, identifier: str) -> AccountHistory | None:
    """The account's history from the service, or None when no account has this identifier."""
    try:
        answer = await call_service(request, "GET", "/v1/helpdesk/accounts/" + quote(identifier, safe=""))
    except ServiceError as error:
        if error.status in (404, 422):
            return None
        raise
    return parse_answer(request, AccountHistory, answer)


def _path_identifier(request: web.Request) -> str:
    """The identifier in the path, or a 404 page."""
    identifier = _identifier(request.match_info["identifier"])
    if identifier is None:
        raise not_found(request, _("No account has this identifier."))
    return identifier


async def account_page(request: web.Request) -> web.Response:
    """GET /accounts/{identifier}: status, children (initial and birth date), merges and audit events."""
    agent = agent_of(request)
    identifier = _path_identifier(request)
    history = await _history(request, identifier)
    if history is None:
        context = _common(typed=identifier, error=None, not_found=identifier)
        return render_page(request, "accounts.html", context, status=404)
    context = _common(
        account=history,
        who=actor_label,
        supervisor=agent.supervisor,
        undone=request.query.get("undone"),
        conflicts=translated(CONFLICTS),
    )
    return render_page(request, "account.html", context)


def _merge_id(request: web.Request) -> str:
    """The merge id in the path, or 404."""
    raw = request.match_info["merge_id"]
    if not re.fullmatch(MERGE_ID_PATTERN, raw):
        raise not_found(request, _("This merge does not exist."))
    return raw


async def _merge_context(request: web.Request, identifier_raw: str) -> tuple[AccountHistory, AccountMerge]:
    """The account the supervisor came from and the merge to undo, or a 404 page."""
    merge_id = _merge_id(request)
    identifier = _identifier(identifier_raw)
    history = await _history(request, identifier) if identifier else None
    merge = next((m for m in history.merges if m.merge_id == merge_id), None) if history else None
    if history is None or merge is None:
        raise not_found(request, _("This merge does not exist for this account."))
    return history, merge


def _undo_context(account: AccountHistory, merge: AccountMerge, **context: Any) -> dict[str, Any]:
    """The undo templates' context: which account is kept, which one reopens."""
    if merge.role == "target":
        target, source = account.identifier, merge.other_identifier
    else:
        target, source = merge.other_identifier, account.identifier
    return _common(
        account=account,
        merge=merge,
        target=target,
        source=source,
        reason_min=REASON_MIN,
        reason_max=REASON_MAX,
        **context,
    )


def check_reason(reason: str) -> str | None:
    """The error for a reason outside 10..500 characters, or None."""
    if len(reason) < REASON_MIN:
        return ngettext(
            "Write the reason for undoing: at least {count} character.",
            "Write the reason for undoing: at least {count} characters.",
            REASON_MIN,
        ).format(count=REASON_MIN)
    if len(reason) > REASON_MAX:
        return ngettext(
            "The reason has at most {count} character.", "The reason has at most {count} characters.", REASON_MAX
        ).format(count=REASON_MAX)
    return None


async def undo_form(request: web.Request) -> web.Response:
    """GET /merges/{id}/undo?identifier=: the undo form (supervisors only)."""
    supervisor_of(request)
    account, merge = await _merge_context(request, request.query.get("identifier", ""))
    return render_page(request, "account_undo.html", _undo_context(account, merge, reason="", error=None, step="form"))


async def undo_merge(request: web.Request) -> web.Response:
    """POST /merges/{id}/undo: check the reason, ask for confirmation, then undo and explain any refusal."""
    supervisor_of(request)
    form = await read_form(request)
    account, merge = await _merge_context(request, single(form, "identifier", limit=IDENTIFIER_LIMIT))
    reason = single(form, "reason", limit=REASON_MAX)
    error = check_reason(reason)
    if error is not None or form.get("confirm") != "yes" or form.get("back"):
        step = "form" if error is not None or form.get("back") else "confirm"
        context = _undo_context(account, merge, reason=reason, error=error, step=step)
        return render_page(request, "account_undo.html", context, status=400 if error else 200)
    try:
        answer = await call_service(
            request, "POST", f"/v1/helpdesk/merges/{merge.merge_id}/undo", json={"reason": reason}
        )
    except ServiceError as failure:
        return _refused(request, account, merge, reason, failure)
    result = parse_answer(request, UndoResult, answer)
    raise web.HTTPSeeOther(f"{account_url(account.identifier)}?undone={result.merge_id}")


def _refused(
    request: web.Request, account: AccountHistory, merge: AccountMerge, reason: str, failure: ServiceError
) -> web.Response:
    """Explain in plain words why the service refused the undo."""
    if failure.status == 422:
        error = _("The service refuses this reason: never put a password in it, not even a temporary one.")
        context = _undo_context(account, merge, reason=reason, error=error, step="form")
        return render_page(request, "account_undo.html", context, status=400)
    if failure.code not in UNDO_ERRORS:
        raise failure
    details = _conflict_lines(failure.details) if failure.code == "merge_undo_conflict" else []
    context = _undo_context(
        account, merge, reason=reason, error=None, step="refused", refusal=_(UNDO_ERRORS[failure.code]), details=details
    )
    return render_page(request, "account_undo.html", context, status=failure.status)


def _conflict_lines(details: Any) -> list[str]:
    """The conflicts the service named (`[{code, …}]`), in words when known, as codes otherwise."""
    items = details if isinstance(details, list) else [details] if details else []
    codes = [str(item.get("code", "")) if isinstance(item, dict) else str(item) for item in items[:10]]
    return [_(CONFLICTS[code]) if code in CONFLICTS else code for code in codes if code]


def add_routes(app: web.Application) -> None:
    """Register the account and undo pages."""
    app.router.add_get("/accounts", search_page, name="accounts")
    app.router.add_get("/accounts/{identifier}", account_page, name="account")
    app.router.add_get(r"/merges/{merge_id}/undo", undo_form, name="merge_undo")
    app.router.add_post(r"/merges/{merge_id}/undo", undo_merge)
