"""Creating tenants and users with the same validation for forms, the CLI and the demo seed."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import select

from . import audit
from .extensions import db
from .models import AUTH_TYPE_LABELS, ROLE_SYSTEM_ADMIN, ROLES, PasswordPolicy, Tenant, User
from .passwords import describe_problems, hash_password, password_problems

LOGIN_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,150}$")
# Deliberately plain: one @, a dot in the domain, no spaces or control characters.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
AUTH_TYPES = tuple(AUTH_TYPE_LABELS)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


class ValidationFailed(Exception):
    """Field errors for a create or update: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def slugify(name: str) -> str:
    """Lower-case, hyphenated, ASCII form of a name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:100]


def login_error(login: str) -> Optional[str]:
    """Why a login is unacceptable, or None."""
    if not login:
        return "Enter a login."
    if any(ch.isspace() for ch in login) or any(unicodedata.category(ch) == "Cc" for ch in login):
        return "A login cannot contain spaces or control characters."
    if not LOGIN_RE.match(login):
        return "Use up to 150 letters, digits and . _ @ + - only."
    return None


def email_error(email: str) -> Optional[str]:
    """Why an email address is unacceptable, or None."""
    if not email:
        return "Enter an email address."
    if len(email) > 254 or not EMAIL_RE.match(email):
        return "Enter a valid email address, for example name@example.com."
    return None


def login_taken(login: str, *, exclude_id: int | None = None) -> bool:
    """Logins are unique across the installation, ignoring case."""
    q = select(User.id).where(User.login_key == login.lower())
    if exclude_id:
        q = q.where(User.id != exclude_id)
    return db.session.scalar(q) is not None


def email_taken(tenant_id: int | None, email: str, *, exclude_id: int | None = None) -> bool:
    """Emails are unique within a tenant, ignoring case."""
    q = select(User.id).where(User.tenant_id == tenant_id, User.email_key == email.lower())
    if exclude_id:
        q = q.where(User.id != exclude_id)
    return db.session.scalar(q) is not None


@dataclass
class NewUser:
    """What a new user is made of."""

    login: str
    email: str
    display_name: str
    role: str
    password: Optional[str] = None
    auth_type: str = "password"
    extra: dict = field(default_factory=dict)


def validate_new_user(tenant: Optional[Tenant], data: NewUser) -> dict[str, str]:
    """Field errors for a new user (empty dict: valid)."""
    return validate_user(tenant, data)


def validate_user(tenant: Optional[Tenant], data: NewUser, *, exclude_id: int | None = None) -> dict[str, str]:
    """Field errors for a new user, or for an existing one (exclude_id) being changed."""
    errors: dict[str, str] = {}
    if err := login_error(data.login):
        errors["login"] = err
    elif login_taken(data.login, exclude_id=exclude_id):
        errors["login"] = "This login is already taken."
    if err := email_error(data.email):
        errors["email"] = err
    elif email_taken(tenant.id if tenant else None, data.email, exclude_id=exclude_id):
        errors["email"] = "Another user of this tenant already has this email."
    if not data.display_name.strip():
        errors["display_name"] = "Enter a name."
    elif len(data.display_name) > 200:
        errors["display_name"] = "Use at most 200 characters."
    if data.role not in ROLES:
        errors["role"] = "Choose a role: " + ", ".join(ROLES) + "."
    elif (data.role == ROLE_SYSTEM_ADMIN) != (tenant is None):
        errors["role"] = ("A service provider account belongs to no tenant." if tenant
                          else "Choose a tenant for this role.")
    if data.auth_type not in AUTH_TYPES:
        errors["auth_type"] = "Choose Password or Single Sign-On."
    if data.password is not None and data.auth_type == "password":
        policy = tenant.policy if tenant else None
        if problems := password_problems(data.password, policy):
            errors["password"] = describe_problems(problems)
    return errors


def create_user(tenant: Optional[Tenant], data: NewUser) -> User:
    """Validate and add a user to the session (caller commits); raises ValidationFailed."""
    errors = validate_new_user(tenant, data)
    if errors:
        raise ValidationFailed(errors)
    user = User(tenant_id=tenant.id if tenant else None, display_name=data.display_name.strip(),
                role=data.role, auth_type=data.auth_type, **data.extra)
    user.set_login(data.login)
    user.set_email(data.email)
    if data.password and data.auth_type == "password":
        user.password_hash = hash_password(data.password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", tenant_id=user.tenant_id, target=user,
                 details={"after": user_snapshot(user)})
    return user


def update_user(user: User, tenant: Optional[Tenant], data: NewUser) -> None:
    """Validate and apply login, email, name, role, authentication type and (if given) a new
    password to an existing user; raises ValidationFailed. The caller audits and commits."""
    errors = validate_user(tenant, data, exclude_id=user.id)
    if errors:
        raise ValidationFailed(errors)
    user.set_login(data.login)
    user.set_email(data.email)
    user.display_name = data.display_name.strip()
    user.role = data.role
    user.auth_type = data.auth_type
    if data.auth_type != "password":
        user.password_hash = None  # a Single Sign-On user has no usable password
    elif data.password:
        user.password_hash = hash_password(data.password)


def user_snapshot(user: User) -> dict:
    """The audited fields of a user (never the password hash or the TOTP secret)."""
    return {"login": user.login, "email": user.email, "display_name": user.display_name,
            "role": user.role, "auth_type": user.auth_type,
            "web_access": bool(user.web_access is None or user.web_access),
            "require_2fa": bool(user.require_2fa),
            "valid_till": user.valid_till.isoformat() if user.valid_till else None,
            "has_password": bool(user.password_hash)}


def validate_new_tenant(name: str, slug: str) -> dict[str, str]:
    """Field errors for a new tenant."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter a name."
    elif len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    if not slug:
        errors["slug"] = "Enter a slug (letters, digits and hyphens)."
    elif not SLUG_RE.match(slug):
        errors["slug"] = "Use lower-case letters, digits and hyphens, starting and ending with a letter or digit."
    elif db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        errors["slug"] = "Another tenant already has this slug."
    return errors


def create_tenant(name: str, slug: str | None = None) -> Tenant:
    """Validate and add a tenant with its default password policy; raises ValidationFailed."""
    slug = (slug or slugify(name)).strip()
    errors = validate_new_tenant(name, slug)
    if errors:
        raise ValidationFailed(errors)
    tenant = Tenant(name=name.strip(), slug=slug)
    tenant.policy = PasswordPolicy(restricted_domains=[])
    db.session.add(tenant)
    db.session.flush()
    audit.record("tenant.created", tenant_id=tenant.id, target=tenant,
                 details={"after": {"name": tenant.name, "slug": tenant.slug}})
    return tenant


def tenant_by_slug(slug: str) -> Optional[Tenant]:
    """The tenant with this slug."""
    return db.session.scalars(select(Tenant).where(Tenant.slug == slug)).first()
