"""An account's history (children, merges, audit) and, for supervisors, undoing a merge with a written reason."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp import web

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
    "active": "Actif",
    "pending": "En attente d’activation",
    "merged": "Fusionné dans un autre compte",
    "closed": "Fermé",
    "locked": "Bloqué",
}
ROLES = {"legal_guardian": "Responsable légal", "other_guardian": "Autre responsable"}
MERGE_ROLES = {"target": "Compte conservé", "source": "Compte fermé par la fusion"}
UNDO_ERRORS = {
    "merge_undo_window_passed": (
        "Cette fusion date de plus de 30 jours : elle ne peut plus être annulée. "
        "Si le parent a besoin d’un autre compte, l’établissement doit en créer un."
    ),
    "merge_already_undone": "Cette fusion a déjà été annulée : rien n’a été changé.",
    "merge_undo_conflict": (
        "Des changements faits depuis la fusion empêchent de l’annuler sans risque : "
        "rien n’a été changé. Voyez le détail ci-dessous, puis l’établissement si besoin."
    ),
    "merge_not_found": "Cette fusion n’existe pas.",
    "supervisor_only": "Seul un superviseur peut annuler une fusion.",
}
REFUSALS = {
    "merge_undo_window_passed": "la fusion date de plus de 30 jours",
    "merge_already_undone": "la fusion a déjà été annulée",
    "merge_undo_conflict": "des changements faits depuis la fusion l’empêchent",
}
CONFLICTS = {
    "merge_recorded_before_undo": "Cette fusion date d’avant la possibilité d’annuler : rien ne permet de la défaire.",
    "target_not_active": "Le compte conservé n’est plus actif.",
    "source_changed": "L’ancien compte a changé depuis la fusion.",
    "source_links_changed": "Les enfants de l’ancien compte ont changé depuis la fusion.",
    "link_removed": "Un enfant déplacé par la fusion a été détaché depuis.",
    "link_role_changed": "Le lien d’un enfant déplacé par la fusion a changé depuis.",
}


ACTIONS = {
    "account.created": "Compte créé",
    "account.activated": "Compte activé",
    "account.viewed": "Historique consulté",
    "account.merged": "Compte fusionné dans un autre",
    "account.merge_received": "Enfants reçus par une fusion",
    "account.merge_undone": "Fusion annulée",
    "session.opened": "Connexion du parent",
    "guardian_link.created": "Enfant rattaché",
    "guardian_link.removed": "Enfant détaché",
    "guardian_link.role_changed": "Lien avec un enfant modifié",
}
ACTORS = {"bot": "le robot", "school": "l’établissement", "system": "le service"}


def actor_label(actor: str | None) -> str:
    """Who did it, as the service shows it: `agent:you` (the reader), `agent` (another agent), `bot`, a school…"""
    if not actor:
        return "—"
    kind, _, who = actor.partition(":")
    if kind == "agent":
        return "vous" if who == "you" else "un conseiller"
    return ACTORS.get(kind, kind)


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
        "statuses": STATUSES,
        "roles": ROLES,
        "merge_roles": MERGE_ROLES,
        "account_url": account_url,
        "refusals": REFUSALS,
        "actions": ACTIONS,
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
        error = f"Tapez l’identifiant du compte (au plus {IDENTIFIER_LIMIT} caractères)."
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
        raise not_found(request, "Aucun compte ne porte cet identifiant.")
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
        conflicts=CONFLICTS,
    )
    return render_page(request, "account.html", context)


def _merge_id(request: web.Request) -> str:
    """The merge id in the path, or 404."""
    raw = request.match_info["merge_id"]
    if not re.fullmatch(MERGE_ID_PATTERN, raw):
        raise not_found(request, "Cette fusion n’existe pas.")
    return raw


async def _merge_context(request: web.Request, identifier_raw: str) -> tuple[AccountHistory, AccountMerge]:
    """The account the supervisor came from and the merge to undo, or a 404 page."""
    merge_id = _merge_id(request)
    identifier = _identifier(identifier_raw)
    history = await _history(request, identifier) if identifier else None
    merge = next((m for m in history.merges if m.merge_id == merge_id), None) if history else None
    if history is None or merge is None:
        raise not_found(request, "Cette fusion n’existe pas pour ce compte.")
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
    """The French error for a reason outside 10..500 characters, or None."""
    if len(reason) < REASON_MIN:
        return f"Écrivez le motif de l’annulation : au moins {REASON_MIN} caractères."
    if len(reason) > REASON_MAX:
        return f"Le motif fait au plus {REASON_MAX} caractères."
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
    """Explain in plain French why the service refused the undo."""
    if failure.status == 422:
        error = "Le service refuse ce motif : n’y mettez jamais de mot de passe, même provisoire."
        context = _undo_context(account, merge, reason=reason, error=error, step="form")
        return render_page(request, "account_undo.html", context, status=400)
    if failure.code not in UNDO_ERRORS:
        raise failure
    details = _conflict_lines(failure.details) if failure.code == "merge_undo_conflict" else []
    context = _undo_context(
        account, merge, reason=reason, error=None, step="refused", refusal=UNDO_ERRORS[failure.code], details=details
    )
    return render_page(request, "account_undo.html", context, status=failure.status)


def _conflict_lines(details: Any) -> list[str]:
    """The conflicts the service named (`[{code, …}]`), in French when known, as codes otherwise."""
    items = details if isinstance(details, list) else [details] if details else []
    codes = [str(item.get("code", "")) if isinstance(item, dict) else str(item) for item in items[:10]]
    return [CONFLICTS.get(code, code) for code in codes if code]


def add_routes(app: web.Application) -> None:
    """Register the account and undo pages."""
    app.router.add_get("/accounts", search_page, name="accounts")
    app.router.add_get("/accounts/{identifier}", account_page, name="account")
    app.router.add_get(r"/merges/{merge_id}/undo", undo_form, name="merge_undo")
    app.router.add_post(r"/merges/{merge_id}/undo", undo_merge)
