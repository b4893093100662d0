"""OpenID Connect sign-in (authorization code + PKCE + nonce) with Authlib's primitives and joserfc.

Discovery from the issuer, the ID token's signature checked against the issuer's JWKS and its claims (iss, aud,
exp, iat, nonce, azp) by Authlib's `CodeIDToken`; the userinfo answer (JSON, or a signed JWT as ProConnect sends)
completes the claims. Who may enter and who is a supervisor: `decide` from the settings.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bot.console.service_client import MAX_FIRST_NAME_LENGTH, AgentIdentity, service_subject
from bot.console.sessions import SignInState
from bot.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class SignInFailed(Exception):
    """The identity provider's answer could not be trusted or used (the code says why, for the logs)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Decision:
    """Whether the person may enter, and as what."""

    allowed: bool
    supervisor: bool = False
    email: str | None = None


class OidcClient:
    """The console as an OpenID Connect relying party of one issuer."""

    def __init__(self, session: aiohttp.ClientSession, settings: ConsoleSettings) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
            raise ValueError("OpenID Connect is not configured")
        self.session = session
        self.settings = settings
        self.issuer: str = settings.oidc_issuer
        self.client_id: str = settings.oidc_client_id
        self.client_secret: str = settings.oidc_client_secret.get_secret_value()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get_json(self, url: str) -> Any:
        try:
            async with self.session.get(url, headers={"Accept": "application/json"}) as response:
                if response.status != 200:
                    raise SignInFailed("provider_http_error")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise SignInFailed("provider_unreachable") from error

    async def metadata(self) -> dict[str, Any]:
        """The issuer's discovery document (cached), checked to name the configured issuer."""
        if self._metadata is None:
            document = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInFailed("issuer_mismatch")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise SignInFailed("incomplete_discovery")
            self._metadata = document
        return self._metadata

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The issuer's signing keys (fetched again when a token names an unknown key)."""
        if self._keys is None or refresh:
            document = await self._get_json((await self.metadata())["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(document)
            except (JoseError, ValueError, TypeError, KeyError) as error:
                raise SignInFailed("bad_jwks") from error
        return self._keys

    def start(self, next_path: str, now: dt.datetime) -> SignInState:
        """Fresh state, nonce and PKCE verifier for one round trip."""
        return SignInState(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            next_path=next_path,
            created_at=now.timestamp(),
        )

    async def authorization_url(self, sign_in: SignInState) -> str:
        """Where to send the browser: the provider's authorization endpoint with PKCE (S256) and nonce."""
        params = [
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.settings.redirect_uri),
            ("scope", self.settings.oidc_scopes),
            ("state", sign_in.state),
            ("nonce", sign_in.nonce),
            ("code_challenge", create_s256_code_challenge(sign_in.code_verifier)),
            ("code_challenge_method", "S256"),
        ]
        if self.settings.oidc_acr_values:
            params.append(("acr_values", self.settings.oidc_acr_values))
        return str(add_params_to_uri((await self.metadata())["authorization_endpoint"], params))

    async def claims(self, code: str, sign_in: SignInState, now: dt.datetime) -> dict[str, Any]:
        """Exchange the code, validate the ID token, complete with userinfo: the person's claims."""
        tokens = await self._exchange(code, sign_in)
        id_claims = await self._validated_id_token(tokens.get("id_token"), sign_in, now)
        access_token = tokens.get("access_token")
        userinfo_endpoint = (await self.metadata()).get("userinfo_endpoint")
        if isinstance(access_token, str) and isinstance(userinfo_endpoint, str):
            extra = await self._userinfo(userinfo_endpoint, access_token)
            if extra.get("sub") != id_claims["sub"]:
                raise SignInFailed("userinfo_subject_mismatch")
            return {**extra, **id_claims}
        return id_claims

    async def _exchange(self, code: str, sign_in: SignInState) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": sign_in.code_verifier,
        }
        headers = {
            "Accept": "application/json",
            "Authorization": basic_authorization(self.client_id, self.client_secret),
        }
        try:
            async with self.session.post(
                (await self.metadata())["token_endpoint"], data=form, headers=headers
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or not isinstance(body, dict):
                    logger.warning("token endpoint refused the code: %s", response.status)
                    raise SignInFailed("token_refused")
                return body
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise SignInFailed("provider_unreachable") from error

    async def _algorithms(self) -> list[str]:
        offered = (await self.metadata()).get("id_token_signing_alg_values_supported") or ["RS256"]
        return [name for name in offered if name in ASYMMETRIC_ALGORITHMS] or ["RS256"]

    async def _decode(self, value: str) -> jwt.Token:
        """A JWT whose signature one of the issuer's keys verifies (keys fetched again once if unknown)."""
        algorithms = await self._algorithms()
        for refresh in (False, True):
            try:
                return jwt.decode(value, await self.keys(refresh=refresh), algorithms=algorithms)
            except JoseError as error:
                if refresh:
                    raise SignInFailed("bad_signature") from error
            except (ValueError, TypeError) as error:
                raise SignInFailed("malformed_token") from error
        raise SignInFailed("bad_signature")

    async def _validated_id_token(self, value: Any, sign_in: SignInState, now: dt.datetime) -> dict[str, Any]:
        if not isinstance(value, str):
            raise SignInFailed("no_id_token")
        token = await self._decode(value)
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "nonce": {"essential": True, "value": sign_in.nonce},
                "sub": {"essential": True},
            },
            params={"nonce": sign_in.nonce, "client_id": self.client_id},
        )
        try:
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
        except JoseError as error:
            logger.warning("ID token refused: %s", error.error)
            raise SignInFailed("id_token_invalid") from error
        return dict(claims)

    async def _userinfo(self, endpoint: str, access_token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json, application/jwt"}
        try:
            async with self.session.get(endpoint, headers=headers) as response:
                if response.status != 200:
                    raise SignInFailed("userinfo_refused")
                if response.content_type == "application/jwt":
                    token = await self._decode((await response.text()).strip())
                    return dict(token.claims)
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise SignInFailed("provider_unreachable") from error
        if not isinstance(body, dict):
            raise SignInFailed("userinfo_malformed")
        return body


def basic_authorization(client_id: str, client_secret: str) -> str:
    """client_secret_basic (RFC 6749 §2.3.1): both form-encoded, then Base64."""
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def decide(claims: dict[str, Any], settings: ConsoleSettings) -> Decision:
    """Who may enter (agent rules or supervisor rules) and who is a supervisor, from the claims."""
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    if email is not None and not _email_verified(claims.get("email_verified"), settings.oidc_require_email_verified):
        email = None  # an unverified address proves nothing
    email = email.strip().lower() if email else None
    domain = email.rpartition("@")[2] if email and "@" in email else None
    values = _claim_values(claims.get(settings.roles_claim))
    supervisor = bool(
        (email and email in settings.supervisor_emails)
        or (domain and domain in settings.supervisor_email_domains)
        or values & set(settings.supervisor_claim_values)
    )
    agent = bool((domain and domain in settings.agent_email_domains) or values & set(settings.agent_claim_values))
    return Decision(allowed=agent or supervisor, supervisor=supervisor, email=email)


def _email_verified(claim: Any, required: bool) -> bool:
    """`email_verified` as providers send it (a boolean, sometimes the string "true"/"false" in userinfo)."""
    if claim is True or (isinstance(claim, str) and claim.strip().lower() == "true"):
        return True
    if claim is None:
        return not required
    return False


def _claim_values(value: Any) -> set[str]:
    if isinstance(value, str):
        return {part.strip().lower() for part in value.replace(",", " ").split() if part.strip()}
    if isinstance(value, list):
        return {str(item).strip().lower() for item in value if isinstance(item, (str, int))}
    return set()


def identity_from(claims: dict[str, Any], decision: Decision) -> AgentIdentity:
    """The agent as the service will know them: subject from `sub`, first name for display only."""
    return AgentIdentity(
        subject=service_subject(str(claims["sub"])),
        first_name=first_name(claims, decision.email),
        supervisor=decision.supervisor,
    )


def first_name(claims: dict[str, Any], email: str | None) -> str:
    """given_name, else the first word of name, else the e-mail's local part; ≤ 50 characters, one line."""
    for candidate in (
        claims.get("given_name"),
        (claims.get("name") or "").split(" ")[0] if isinstance(claims.get("name"), str) else None,
    ):
        if isinstance(candidate, str) and candidate.strip():
            return _clean(candidate)
    if email:
        return _clean(email.partition("@")[0].split(".")[0].capitalize())
    return "Agent"


def _clean(name: str) -> str:
    cleaned = " ".join("".join(c for c in name if c.isprintable()).split())
    return cleaned[:MAX_FIRST_NAME_LENGTH] or "Agent"
