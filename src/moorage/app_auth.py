"""Composition of authentication: builds the auth objects from settings (called by app.py and serve.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from moorage.auth.access_tokens import AccessTokens
from moorage.auth.accounts import Accounts
from moorage.auth.authenticator import Authenticator, LoginFailed, PrincipalStatus
from moorage.auth.credentials import CredentialChain
from moorage.auth.grants import Principal
from moorage.auth.keys import KeyRing
from moorage.auth.lifetimes import LifetimeCap
from moorage.auth.login_passwords import LOGIN_AUDIENCE, REFRESH_AUDIENCE, LoginPasswordVerifier, SignedCredentials
from moorage.auth.passwords import PasswordVerifier
from moorage.auth.policy import RolePolicy
from moorage.auth.ratelimit import LoginRateLimiter
from moorage.auth.robots import Robots
from moorage.auth.roles import PublicRepositories, StoredRoles
from moorage.auth.secret_box import SecretBox
from moorage.auth.secret_key_file import ensure_key_file, read_key_file
from moorage.auth.token_service import TokenServer
from moorage.auth.tokens import RegistryTokens
from moorage.config import Settings
from moorage.data_dir import restrict_new_files
from moorage.metadata.database import Database


@dataclass(frozen=True)
class AuthComponents:
    """Everything the HTTP layer needs for authentication; `chain` takes extra verifiers (OIDC)."""

    settings: Settings
    keys: KeyRing
    chain: CredentialChain
    accounts: Accounts
    access_tokens: AccessTokens
    robots: Robots
    roles: StoredRoles
    authenticator: Authenticator
    tokens: RegistryTokens
    login_passwords: SignedCredentials
    token_server: TokenServer
    policy: RolePolicy
    """The `AccessPolicy` for services (governance) when authentication is on."""


def secret_box(settings: Settings, create: bool = False) -> SecretBox:
    """The box that encrypts stored secrets: `secret_key`, else the key file (generated when `create`)."""
    if settings.secret_key:
        current = settings.secret_key
    elif create:
        current, _ = ensure_key_file(settings.secret_key_path())
    else:
        current = read_key_file(settings.secret_key_path())
    return SecretBox(current, settings.previous_secret_keys)


def local_accounts(settings: Settings) -> Accounts:
    """Accounts on the metadata store itself (schema brought up to date), for local admin commands."""
    restrict_new_files()
    database = Database(settings.metadata_url())
    database.migrate()
    return Accounts(database)


def build_auth(
    settings: Settings,
    database: Database,
    federated: Callable[[Principal], bool] | None = None,
    is_public: PublicRepositories | None = None,
    on_login_failure: LoginFailed | None = None,
    box: SecretBox | None = None,
) -> AuthComponents:
    """`federated` says whether an OIDC principal may still act (OidcFederation.still_valid);
    `is_public` whether anyone may pull a repository besides `anonymous` grants (governance's visibility);
    `box` decrypts the signing keys (default: from the settings; start-up has created the key file)."""
    login_lifetime = timedelta(hours=settings.login_password_lifetime_hours)
    login_max = timedelta(hours=settings.login_password_max_hours)
    refresh_lifetime = timedelta(days=settings.refresh_token_lifetime_days)
    keys = KeyRing(
        database,
        rotation=timedelta(days=settings.signing_key_rotation_days),
        verify_margin=max(login_lifetime, login_max, refresh_lifetime)
        + timedelta(seconds=settings.token_clock_skew_seconds),
        box=box or secret_box(settings, create=True),
    )
    accounts = Accounts(database)
    non_expiring = settings.allow_non_expiring_credentials
    access_tokens = AccessTokens(
        database, LifetimeCap("access token", settings.access_token_max_days, "access_token_max_days", non_expiring)
    )
    robots = Robots(
        database, LifetimeCap("robot secret", settings.robot_secret_max_days, "robot_secret_max_days", non_expiring)
    )
    status = PrincipalStatus(accounts, access_tokens, robots, federated)
    login_passwords = SignedCredentials(
        keys, settings.token_issuer, LOGIN_AUDIENCE, login_lifetime, status, login_max, "login_password_max_hours"
    )
    refresh_tokens = SignedCredentials(keys, settings.token_issuer, REFRESH_AUDIENCE, refresh_lifetime, status)
    chain = CredentialChain([PasswordVerifier(database), access_tokens, robots, LoginPasswordVerifier(login_passwords)])
    limiter = LoginRateLimiter(
        database,
        settings.login_failures_per_user,
        settings.login_failures_per_address,
        timedelta(seconds=settings.login_failure_window_seconds),
    )
    authenticator = Authenticator(chain, limiter, on_login_failure)
    roles = StoredRoles(database, is_public)
    tokens = RegistryTokens(
        keys,
        settings.token_issuer,
        settings.token_service,
        timedelta(seconds=settings.token_lifetime_seconds),
        settings.token_clock_skew_seconds,
    )
    server = TokenServer(authenticator, roles, tokens, refresh_tokens, login_passwords)
    policy = RolePolicy(roles, access_tokens, robots)
    return AuthComponents(
        settings,
        keys,
        chain,
        accounts,
        access_tokens,
        robots,
        roles,
        authenticator,
        tokens,
        login_passwords,
        server,
        policy,
    )
